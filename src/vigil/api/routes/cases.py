"""Cases and holds: investigators open cases and ask for footage to be kept; a supervisor, who
is never the one who asked, approves. Every read and change is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from vigil.api.context import CASE, REASON_MAX, REASON_MIN, caller_of, context_of
from vigil.api.evidence import answer, auditor, decide
from vigil.api.params import NO_NUL, moment
from vigil.api.security import EnforcedRoute
from vigil.errors import EvidenceError
from vigil.storage.evidence import CaseStore, Hold, HoldStore
from vigil.timeutil import DAY_US, now_us

router = APIRouter(prefix="/api/v1", tags=["evidence"], route_class=EnforcedRoute)

Reference = Annotated[str, Path(pattern=CASE.pattern, description="the case reference")]
HoldId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the hold's number")]


class CaseBody(BaseModel):
    reference: str = Field(pattern=CASE.pattern, description="as sent in X-Vigil-Case")
    title: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    description: str = Field("", max_length=5000, pattern=NO_NUL)


class HoldBody(BaseModel):
    case: str = Field(pattern=CASE.pattern)
    camera: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    since: str = Field(max_length=64, description="ISO 8601")
    until: str = Field(max_length=64, description="ISO 8601")
    reason: str = Field(min_length=REASON_MIN, max_length=REASON_MAX, pattern=NO_NUL)
    days: float | None = Field(
        None, gt=0, description="expiry in days (default evidence.hold_days)"
    )


class ReleaseBody(BaseModel):
    reason: str = Field(min_length=REASON_MIN, max_length=REASON_MAX, pattern=NO_NUL)


def _visible_hold(request: Request, hold_id: int) -> Hold:
    context = context_of(request)
    hold = HoldStore(context.engine).get(hold_id)
    if hold is None or not context.can_see(request, hold.camera):
        if hold is not None:
            context.refuse(request, "hold.view", "denied", [hold.camera], why="scope")
        raise HTTPException(404, f"hold {hold_id} not found")
    return hold


@router.get("/cases")
def list_cases(
    request: Request, state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None
) -> dict[str, Any]:
    """Every case, newest first."""
    context = context_of(request)
    context.audit(request, "cases.list", "ok", state=state)
    return {"cases": [c.to_json() for c in CaseStore(context.engine).list(state)]}


@router.post("/cases", status_code=201)
def open_case(body: CaseBody, request: Request) -> dict[str, Any]:
    """Open a case; its reference is what evidence requests then carry."""
    context = context_of(request)
    try:
        case = CaseStore(context.engine).open(
            body.reference,
            body.title,
            body.description,
            caller_of(request).name,
            auditor(request),
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return case.to_json()


@router.get("/cases/{reference:path}")
def get_case(reference: Reference, request: Request) -> dict[str, Any]:
    """The case and the holds on the cameras the account may see."""
    context = context_of(request)
    case = CaseStore(context.engine).get(reference)
    context.audit(request, "case.view", "ok" if case else "empty", case=reference)
    if case is None:
        raise HTTPException(404, f"case {reference!r} not found")
    store = HoldStore(context.engine)
    visible = set(context.visible_cameras(request))
    found = store.list(case_reference=reference, cameras=visible)
    return {**case.to_json(), "holds": [h.to_json(store.held_bytes(h)) for h in found]}


@router.post("/cases/{reference:path}/close")
def close_case(reference: Reference, request: Request) -> dict[str, Any]:
    """Close the case; its holds stay in force until released or expired."""
    context = context_of(request)
    try:
        case = CaseStore(context.engine).close(reference, caller_of(request).name, auditor(request))
    except EvidenceError as exc:
        raise answer(exc) from None
    return case.to_json()


@router.get("/holds")
def list_holds(
    request: Request,
    case: Annotated[str | None, Query(pattern=CASE.pattern)] = None,
) -> dict[str, Any]:
    """Holds on the cameras the account may see, with the bytes each keeps."""
    context = context_of(request)
    visible = set(context.visible_cameras(request))
    context.audit(request, "holds.list", "ok", case_filter=case)
    store = HoldStore(context.engine)
    found = store.list(case_reference=case, cameras=visible)
    return {"holds": [h.to_json(store.held_bytes(h)) for h in found]}


@router.post("/holds", status_code=201)
def request_hold(body: HoldBody, request: Request) -> dict[str, Any]:
    """Ask for a camera's footage over a range to be kept for a case. It is kept only once a
    supervisor other than the requester approves."""
    context = context_of(request)
    context.camera(request, body.camera)
    since_us, until_us = moment(body.since, "since"), moment(body.until, "until")
    assert since_us is not None and until_us is not None  # the body requires both
    evidence = context.config.evidence
    days = body.days if body.days is not None else evidence.hold_days
    if days > evidence.max_hold_days:
        raise HTTPException(
            422, f"days {days:g} is beyond evidence.max_hold_days ({evidence.max_hold_days:g})"
        )
    try:
        hold = HoldStore(context.engine).request(
            body.case,
            body.camera,
            since_us,
            until_us,
            body.reason,
            now_us() + int(days * DAY_US),
            caller_of(request).name,
            auditor(request, [body.camera], since_us, until_us),
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return hold.to_json()


def _decide(request: Request, hold_id: int, action: str, how: str) -> dict[str, Any]:
    hold = _visible_hold(request, hold_id)
    store = HoldStore(context_of(request).engine)
    change = getattr(store, how)
    decided: Hold = decide(
        request,
        action,
        lambda user, audit: change(hold_id, user, audit),
        [hold.camera],
        (hold.since_us, hold.until_us),
    )
    return decided.to_json(store.held_bytes(decided))


@router.post("/holds/{hold_id}/approve")
def approve_hold(hold_id: HoldId, request: Request) -> dict[str, Any]:
    """The second person: the hold takes effect. Never the requester."""
    return _decide(request, hold_id, "hold.approve", "approve")


@router.post("/holds/{hold_id}/refuse")
def refuse_hold(hold_id: HoldId, request: Request) -> dict[str, Any]:
    """Turn a hold request down."""
    return _decide(request, hold_id, "hold.refuse", "refuse")


@router.post("/holds/{hold_id}/release")
def request_release(hold_id: HoldId, body: ReleaseBody, request: Request) -> dict[str, Any]:
    """Ask for an active hold to end before its expiry; a second person approves."""
    hold = _visible_hold(request, hold_id)
    store = HoldStore(context_of(request).engine)
    try:
        asked = store.request_release(
            hold_id,
            body.reason,
            caller_of(request).name,
            auditor(request, [hold.camera], hold.since_us, hold.until_us),
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return asked.to_json()


@router.post("/holds/{hold_id}/release/approve")
def approve_release(hold_id: HoldId, request: Request) -> dict[str, Any]:
    """The second person of a release: the footage may be deleted again by retention."""
    return _decide(request, hold_id, "hold.release", "approve_release")
