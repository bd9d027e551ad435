"""Privacy mask lifts: an investigator whose role may (roles.<role>.mask_lift; none may by
default) asks, with a case and a reason, to see one camera's range without its masks; when
privacy.lift_approval is set a supervisor who did not ask approves. The lift is then spent on
one playback or export (the `lift` parameter) and is over."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from vigil.api.context import CASE, REASON_MAX, REASON_MIN, caller_of, context_of
from vigil.api.evidence import answer, auditor, decide
from vigil.api.params import NO_NUL, moment
from vigil.api.security import EnforcedRoute
from vigil.errors import EvidenceError
from vigil.storage.lifts import LiftStore

router = APIRouter(prefix="/api/v1", tags=["evidence"], route_class=EnforcedRoute)
LiftId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the lift's number")]


class LiftBody(BaseModel):
    case: str = Field(pattern=CASE.pattern)
    camera: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    since: str = Field(max_length=64, description="ISO 8601")
    until: str = Field(max_length=64, description="ISO 8601")
    reason: str = Field(min_length=REASON_MIN, max_length=REASON_MAX, pattern=NO_NUL)


@router.get("/lifts")
def list_lifts(request: Request) -> dict[str, Any]:
    """Mask lifts on the cameras the account may see, newest first."""
    context = context_of(request)
    context.audit(request, "lifts.list", "ok")
    found = LiftStore(context.engine).list(set(context.visible_cameras(request)))
    return {"lifts": [lift.to_json() for lift in found]}


@router.post("/lifts", status_code=201)
def request_lift(body: LiftBody, request: Request) -> dict[str, Any]:
    """Ask to see a camera's range without its privacy masks, once."""
    context = context_of(request)
    camera = context.camera(request, body.camera)
    user = caller_of(request).user
    if not context.config.may_lift_masks(user.roles if user else []):
        context.refuse(request, "mask.lift.request", "denied", [body.camera], why="mask.lift")
        raise HTTPException(
            403,
            "lifting privacy masks needs the mask.lift permission, which no role has by "
            "default: an administrator grants it with roles.<role>.mask_lift: true",
        )
    if not camera.privacy_masks:
        raise HTTPException(422, f"camera {body.camera!r} has no privacy masks to lift")
    since_us, until_us = moment(body.since, "since"), moment(body.until, "until")
    assert since_us is not None and until_us is not None  # the body requires both
    privacy = context.config.privacy
    try:
        lift = LiftStore(context.engine).request(
            body.case,
            body.camera,
            (since_us, until_us),
            body.reason,
            caller_of(request).name,
            privacy.lift_approval,
            privacy.lift_minutes,
            auditor(request, [body.camera], since_us, until_us),
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return lift.to_json()


@router.post("/lifts/{lift_id}/approve")
def approve_lift(lift_id: LiftId, request: Request) -> dict[str, Any]:
    """The second person of a lift; never the requester."""
    context = context_of(request)
    store = LiftStore(context.engine)
    lift = store.get(lift_id)
    if lift is None or not context.can_see(request, lift.camera):
        raise HTTPException(404, f"lift {lift_id} not found")
    minutes = context.config.privacy.lift_minutes
    approved = decide(
        request,
        "mask.lift.approve",
        lambda user, audit: store.approve(lift_id, user, minutes, audit),
        [lift.camera],
        (lift.since_us, lift.until_us),
    )
    return approved.to_json()
