"""What the evidence routes (cases, holds, exports) share: the audit record of a change,
written in the change's transaction; the HTTP answer to a refused change; and its audit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from sqlalchemy import Connection

from vigil.api.context import caller_of, context_of
from vigil.errors import EvidenceError
from vigil.storage.evidence import Audit

STATUS = {"not_found": 404, "conflict": 409, "forbidden": 403, "invalid": 422}


def auditor(
    request: Request,
    cameras: list[str] | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> Audit:
    """The audit record of this request, written in the transaction of the change."""
    context = context_of(request)

    def write(connection: Connection, action: str, detail: Mapping[str, Any]) -> int:
        return context.audit(request, action, "ok", cameras, since_us, until_us,
                             connection=connection, **detail)  # fmt: skip

    return write


def answer(exc: EvidenceError) -> HTTPException:
    return HTTPException(STATUS.get(exc.kind, 422), str(exc))


def refused(request: Request, action: str, exc: EvidenceError, cameras: list[str]) -> None:
    """A refusal of a change is audited too: who tried to approve their own request, say."""
    outcome = "denied" if exc.kind == "forbidden" else "refused"
    context_of(request).refuse(request, action, outcome, cameras, why=str(exc))


T = TypeVar("T")


def decide(
    request: Request,
    action: str,
    change: Callable[[str, Audit], T],
    cameras: list[str],
    span: tuple[int, int],
) -> T:
    """A second person's decision (approve, refuse, cancel...) by the caller, audited in its
    transaction; a refusal of the two-person rule or of the state is audited too."""
    try:
        return change(caller_of(request).name, auditor(request, cameras, *span))
    except EvidenceError as exc:
        if exc.kind in ("forbidden", "conflict"):
            refused(request, action, exc, cameras)
        raise answer(exc) from None
