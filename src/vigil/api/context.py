"""What every request handler shares: the configuration, the database, accounts and the audit
trail, and who is calling."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import HTTPException, Request
from sqlalchemy import Connection, Engine

from vigil.accounts.sessions import Sessions, Tokens
from vigil.accounts.store import Accounts, User
from vigil.accounts.throttle import LoginThrottle, RefusalThrottle
from vigil.api.access import ACCESS
from vigil.api.grants import Grants
from vigil.api.origin import Origin, origin_of
from vigil.audit import AuditLog, AuditRecord
from vigil.config import CameraConfig, VigilConfig
from vigil.errors import AuditError
from vigil.storage.layout import Layout
from vigil.timeutil import DAY_US, US, now_us, to_iso

log = logging.getLogger(__name__)
CASE = re.compile(r"^[\w./:#-]{1,64}$")
REASON_MIN, REASON_MAX = 5, 500


@dataclass(frozen=True)
class Caller:
    """Who is calling: an account (by session cookie or bearer token) or nobody."""

    user: User | None
    via: str  # session | token | anonymous
    csrf_token: str | None = None
    session_token: str | None = None
    credential: str = ""  # SHA-256 of the session or bearer secret: what grants are bound to

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
        self.refusals = RefusalThrottle()
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
        connection: Connection | None = None,
        **detail: Any,
    ) -> int:
        """Append the audit record of this request; when it cannot be written the request fails
        (503) before any footage leaves, so nothing is seen unrecorded. With `connection`, the
        record joins the transaction of the change it records (see AuditLog.append)."""
        caller = caller_of(request)
        reason: Reason | None = getattr(request.state, "reason", None)
        if reason is not None:
            detail["case"] = reason.case
        origin = self.origin(request)
        if origin.forwarded:
            detail["forwarded_for"] = origin.forwarded
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
            source=origin.peer,
            detail=detail,
        )
        try:
            return self.audit_log.append(record, connection).seq
        except AuditError as exc:
            raise _unauditable(exc) from None

    def ensure_auditable(self) -> None:
        """Refuse (503) unless the audit trail could record an access now."""
        try:
            self.audit_log.probe()
        except AuditError as exc:
            raise _unauditable(exc) from None

    def origin(self, request: Request) -> Origin:
        return origin_of(request, self.config.api.trusted_proxies)

    def refuse(
        self, request: Request, action: str, outcome: str, cameras: list[str], **detail: Any
    ) -> None:
        """Audit a refused request, unless the account has been refused so often of late that
        it is throttled (429, unaudited: it is being turned away, not let in)."""
        account = caller_of(request).name
        wait = self.refusals.wait(account)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many refused requests; try again in {wait:.0f} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        if self.refusals.refused(account):
            detail["throttled"] = "further refusals of this account go unrecorded for a while"
        self.audit(request, action, outcome, cameras, **detail)

    def can_see(self, request: Request, name: str) -> bool:
        camera = self.config.cameras.get(name)
        user = caller_of(request).user
        return camera is not None and user is not None and user.can_see(name, camera.site)

    def camera(self, request: Request, name: str) -> CameraConfig:
        """A configured camera the caller may see. Any other name is 404, since the existence
        of cameras outside one's scope is not revealed, and is audited as a denial."""
        if not self.can_see(request, name):
            self.refuse(request, route_action(request), "denied", [name], why="scope")
            raise HTTPException(404, f"camera {name!r} not found")
        return self.config.cameras[name]

    def lookback_horizon(self, request: Request) -> int | None:
        """The oldest moment (µs) the account's roles may see footage of (the configuration's
        roles.<role>.lookback_days); None: as far back as retention keeps it."""
        user = caller_of(request).user
        days = self.config.lookback_days(user.roles if user else [])
        return None if days is None else now_us() - int(days * DAY_US)

    def within_lookback(self, request: Request, cameras: list[str], since_us: int) -> None:
        """Refuse footage older than the account may look back to (403), audited as denied,
        even when retention still keeps it."""
        horizon = self.lookback_horizon(request)
        if horizon is None or since_us >= horizon:
            return
        user = caller_of(request).user
        days = self.config.lookback_days(user.roles if user else [])
        self.refuse(request, route_action(request), "denied", cameras, why="lookback",
                    lookback_days=days)  # fmt: skip
        raise HTTPException(
            403,
            f"footage before {to_iso(horizon)} is beyond your lookback of {days:g} days (the "
            "roles section of the configuration); ask an account whose role may look further "
            "back",
        )

    def visible_cameras(self, request: Request) -> list[str]:
        user = caller_of(request).user
        if user is None:
            return []
        return [n for n, c in self.config.cameras.items() if user.can_see(n, c.site)]


def _unauditable(exc: AuditError) -> HTTPException:
    # The cause names the database; it goes to the log for the administrator, not to callers.
    log.error("the audit trail cannot be written", extra={"error": str(exc)})
    return HTTPException(
        503,
        "the audit trail cannot be written, so access is refused; the administrator will find "
        "the cause in Vigil's log",
    )


def route_action(request: Request) -> str:
    """The audit action of the route being called, or "access" for one that records none."""
    route = request.scope.get("route")
    rule = ACCESS.get((request.method, getattr(route, "path", "")))
    return (rule.audit if rule else None) or "access"


def context_of(request: Request) -> ApiContext:
    return request.app.state.context  # type: ignore[no-any-return]


def caller_of(request: Request) -> Caller:
    return getattr(request.state, "caller", None) or Caller(None, "anonymous")


def evidence_reason(request: Request) -> Reason | None:
    """The case reference and reason of an evidence request, from the X-Vigil-Case and
    X-Vigil-Reason headers or the case and reason query parameters (for <video src>)."""
    case = _header(request, "x-vigil-case") or request.query_params.get("case")
    text = _header(request, "x-vigil-reason") or request.query_params.get("reason")
    if not case or not text:
        return None
    case, text = case.strip(), " ".join(text.split())
    # Control characters (NUL above all, which PostgreSQL text cannot hold) would make the
    # audit record unwritable, so the request is refused rather than failed.
    if not CASE.match(case) or not REASON_MIN <= len(text) <= REASON_MAX or not text.isprintable():
        return None
    return Reason(case, text)


def _header(request: Request, name: str) -> str | None:
    """A header as text: UTF-8, percent-encoded (what the console sends, since browsers send
    header values as Latin-1) or raw. None if it is not valid UTF-8."""
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return unquote(value.encode("latin-1").decode("utf-8"), errors="strict")
    except UnicodeError:
        return None


def seconds_us(seconds: float) -> int:
    return int(seconds * US)
