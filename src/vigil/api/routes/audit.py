"""The audit trail, for auditors: reading it (itself audited) and verifying its chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from vigil.api.context import context_of
from vigil.api.params import MAX_ID, NO_NUL, Since, Until, moment, writable
from vigil.api.security import EnforcedRoute
from vigil.audit import read_records, verify
from vigil.audit.proofs import witness_feed
from vigil.errors import AuditError
from vigil.oversight.report import transparency
from vigil.oversight.report_html import render
from vigil.timeutil import DAY_US, now_us, to_iso

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=EnforcedRoute)


@router.get("")
def audit_records(
    request: Request,
    since: Since = None,
    until: Until = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    action: Annotated[str | None, Query(max_length=48, pattern=NO_NUL)] = None,
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """Audit records in order of their sequence number, with the hashes that chain them."""
    context = context_of(request)
    since_us, until_us = moment(since, "since"), moment(until, "until")
    context.audit(
        request,
        "audit.read",
        "ok",
        since_us=since_us,
        until_us=until_us,
        actor_filter=actor,
        action_filter=action,
    )
    entries = read_records(
        context.engine,
        since_us=since_us,
        until_us=until_us,
        actor=actor,
        action=action,
        after_seq=after_seq,
        limit=limit,
    )
    return {
        "records": [
            {
                "seq": e.seq,
                "at": to_iso(e.at_us),
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "outcome": e.outcome,
                "cameras": e.cameras,
                "since": to_iso(e.since_us),
                "until": to_iso(e.until_us),
                "reason": e.reason,
                "source": e.source,
                "detail": e.detail,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in entries
        ]
    }


@router.get("/checkpoints")
def checkpoints(
    request: Request,
    after_size: Annotated[int, Query(ge=0, le=MAX_ID, description="the last size seen")] = 0,
) -> dict[str, Any]:
    """Signed checkpoints after `after_size` records, each with the consistency proof from
    that size: what `vigil audit witness` collects and checks."""
    try:
        return witness_feed(context_of(request).engine, after_size)
    except AuditError as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/report", response_model=None)
def transparency_report(
    request: Request,
    since: Since = None,
    until: Until = None,
    format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
) -> dict[str, Any] | HTMLResponse:
    """The transparency report over [since, until) (default: the last 30 days), made from the
    audit trail and the register alone (`vigil report transparency` also writes PDF)."""
    context = context_of(request)
    until_us = moment(until, "until") or now_us()
    since_us = moment(since, "since") or writable(until_us - 30 * DAY_US, "since")
    if since_us >= until_us:
        raise HTTPException(422, "since must be before until")
    context.audit(request, "report.transparency", "ok", since_us=since_us, until_us=until_us)
    report = transparency(context.config, context.engine, since_us, until_us,
                          [context.audit_log.public_key])  # fmt: skip
    return report if format == "json" else HTMLResponse(render(report))


@router.get("/verify")
def verify_trail(request: Request) -> dict[str, Any]:
    """Recompute the whole chain and check the signed checkpoints."""
    context = context_of(request)
    context.audit(request, "audit.verify", "ok")
    report = verify(context.engine, [context.audit_log.public_key])
    return {
        "ok": report.ok,
        "records": report.records,
        "checkpoints": report.checkpoints,
        "first_bad_seq": report.first_bad_seq,
        "problems": report.problems,
    }
