"""What every request handler shares: the configuration, the database, accounts and the audit
trail, and who is calling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import Engine

from vigil.accounts.sessions import Sessions, Tokens
from vigil.accounts.store import Accounts, User
from vigil.accounts.throttle import LoginThrottle
from vigil.api.grants import Grants
from vigil.audit import AuditLog, AuditRecord
from vigil.config import CameraConfig, VigilConfig
from vigil.errors import AuditError
from vigil.storage.layout import Layout
from vigil.timeutil import US, now_us

CASE = re.compile(r"^[\w./:#-]{1,64}$")
REASON_MIN, REASON_MAX = 5, 500


@dataclass(frozen=True)
class Caller:
    """Who is calling: an account (by session cookie or bearer token) or nobody."""

    user: User | None
    via: str  # session | token | anonymous
    csrf_token: str | None = None
    session_token: str | None = None

    @property
    def name(self) -> str:
        return self.user.name if self.user else "anonymous"

    @property
    def role(self) -> str:
        return ",".join(sorted(self.user.roles)) if self.user else "-"


@dataclass(frozen=True)
class Reason:
    case: str
    text: str

    def __str__(self) -> str:
        return f"{self.case}: {self.text}"


class ApiContext:
    def __init__(self, config: VigilConfig, engine: Engine, audit_log: AuditLog) -> None:
        self.config = config
        self.engine = engine
        self.layout = Layout(config.storage.path)
        self.accounts = Accounts(engine)
        self.sessions = Sessions(engine, int(config.api.session_hours * 3600))
        self.tokens = Tokens(engine)
        self.throttle = LoginThrottle()
        self.audit_log = audit_log
        self.grants = Grants()

    def audit(
        self,
        request: Request,
        action: str,
        outcome: str = "ok",
        cameras: list[str] | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        actor: str | None = None,
        **detail: Any,
    ) -> int:
        """Append the audit record of this request; when it cannot be written the request fails
        (503) before any footage leaves, so nothing is seen unrecorded."""
        caller = caller_of(request)
        reason: Reason | None = getattr(request.state, "reason", None)
        if reason is not None:
            detail["case"] = reason.case
        record = AuditRecord(
            at_us=now_us(),
            actor=actor or caller.name,
            role=caller.role,
            action=action,
            outcome=outcome,
            cameras=sorted(cameras or []),
            since_us=since_us,
            until_us=until_us,
            reason=str(reason) if reason else None,
            source=source_address(request),
            detail=detail,
        )
        try:
            return self.audit_log.append(record).seq
        except AuditError as exc:
            raise HTTPException(
                503, f"the audit trail cannot be written, so access is refused: {exc}"
            ) from None

    def camera(self, request: Request, name: str) -> CameraConfig:
        """A configured camera the caller may see; any other name is 404 (existence of
        cameras outside one's scope is not revealed)."""
        camera = self.config.cameras.get(name)
        user = caller_of(request).user
        if camera is None or user is None or not user.can_see(name, camera.site):
            raise HTTPException(404, f"camera {name!r} not found")
        return camera

    def visible_cameras(self, request: Request) -> list[str]:
        user = caller_of(request).user
        if user is None:
            return []
        return [n for n, c in self.config.cameras.items() if user.can_see(n, c.site)]


def context_of(request: Request) -> ApiContext:
    return request.app.state.context  # type: ignore[no-any-return]


def caller_of(request: Request) -> Caller:
    return getattr(request.state, "caller", None) or Caller(None, "anonymous")


def source_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def evidence_reason(request: Request) -> Reason | None:
    """The case reference and reason of an evidence request, from the X-Vigil-Case and
    X-Vigil-Reason headers or the case and reason query parameters (for <video src>)."""
    case = request.headers.get("x-vigil-case") or request.query_params.get("case")
    text = request.headers.get("x-vigil-reason") or request.query_params.get("reason")
    if not case or not text:
        return None
    case, text = case.strip(), " ".join(text.split())
    # Control characters (NUL above all, which PostgreSQL text cannot hold) would make the
    # audit record unwritable, so the request is refused rather than failed.
    if not CASE.match(case) or not REASON_MIN <= len(text) <= REASON_MAX or not text.isprintable():
        return None
    return Reason(case, text)


def seconds_us(seconds: float) -> int:
    return int(seconds * US)
