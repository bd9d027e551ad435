"""Event search, an event's snapshot, and an operator's verdict on it."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from vigil.api.context import ApiContext, caller_of, context_of, route_action
from vigil.api.params import NO_NUL, Since, Until, time_range
from vigil.api.security import EnforcedRoute
from vigil.events.model import EventType
from vigil.events.reviews import Review, ReviewStore
from vigil.events.store import EventStore, StoredEvent
from vigil.timeutil import to_iso

router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=EnforcedRoute)

EVENT_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EventId = Annotated[str, Path(pattern=EVENT_ID, description="the event's UUID")]
Name = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]


class ReviewBody(BaseModel):
    verdict: Literal["acknowledged", "false_alarm"]
    note: str = Field("", max_length=2000, pattern=NO_NUL)


def _store(context: ApiContext) -> EventStore:
    return EventStore(context.engine, context.layout.snapshots)


def event_json(event: StoredEvent, review: Review | None) -> dict[str, Any]:
    """The event as `vigil events` gives it, with its review."""
    return event.to_json(
        review=None
        if review is None
        else {
            "verdict": review.verdict,
            "note": review.note,
            "by": review.user_name,
            "at": to_iso(review.at_us),
        }
    )


def _event(request: Request, event_id: str) -> StoredEvent:
    """An event of a camera the caller may see; any other id is 404, the same answer whether
    the event does not exist or is out of scope, and the latter is audited as a denial."""
    context = context_of(request)
    event = _store(context).get(event_id)
    if event is not None and not context.can_see(request, event.camera):
        action = route_action(request)
        context.refuse(request, action, "denied", [event.camera], why="scope", event=event_id)
        event = None
    if event is None:
        raise HTTPException(404, f"event {event_id} not found")
    return event


@router.get("")
def search(
    request: Request,
    camera: Name = None,
    site: Name = None,
    type: Annotated[str | None, Query(description=" | ".join(get_args(EventType)))] = None,
    label: Name = None,
    zone: Name = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events overlapping [since, until] (default: the last 24 hours), newest first, among the
    cameras the account may see."""
    context = context_of(request)
    if type is not None and type not in get_args(EventType):
        raise HTTPException(422, f"type {type!r} is unknown; use one of {get_args(EventType)}")
    cameras = set(context.visible_cameras(request))
    if camera is not None:
        context.camera(request, camera)
        cameras &= {camera}
    if site is not None:
        cameras = {n for n in cameras if context.config.cameras[n].site == site}
    since_us, until_us = time_range(since, until, default_s=24 * 3600)
    horizon = context.lookback_horizon(request)
    if horizon is not None and until_us <= horizon:
        context.within_lookback(request, sorted(cameras), since_us)
    since_us = since_us if horizon is None else max(since_us, horizon)  # older: not searched
    filters = {
        k: v
        for k, v in (("site", site), ("type", type), ("label", label), ("zone", zone))
        if v is not None
    }
    context.audit(
        request,
        "events.search",
        "ok",
        sorted(cameras) if camera or site else [],
        since_us,
        until_us,
        **filters,
    )
    found = _store(context).find(
        type=type,
        since_us=since_us,
        until_us=until_us,
        limit=limit,
        cameras=cameras,
        label=label,
        zone=zone,
    )
    reviews = ReviewStore(context.engine).get_many([e.id for e in found])
    return {"events": [event_json(e, reviews.get(e.id)) for e in found]}


@router.get("/{event_id}")
def get_event(event_id: EventId, request: Request) -> dict[str, Any]:
    """One event with its review."""
    context = context_of(request)
    event = _event(request, event_id)
    context.within_lookback(request, [event.camera], event.start_us)
    context.audit(
        request, "event.view", "ok", [event.camera], event.start_us, event.end_us, event=event_id
    )
    return event_json(event, ReviewStore(context.engine).get_many([event_id]).get(event_id))


@router.get("/{event_id}/snapshot.jpg", response_class=FileResponse)
def snapshot(event_id: EventId, request: Request, clean: bool = False) -> FileResponse:
    """The event's best picture, with its box drawn (or clean=true for the picture alone)."""
    context = context_of(request)
    event = _event(request, event_id)
    context.within_lookback(request, [event.camera], event.start_us)
    path = event.clean_snapshot if clean else event.snapshot
    context.audit(
        request,
        "snapshot.view",
        "ok" if path else "empty",
        [event.camera],
        event.start_us,
        event.end_us,
        event=event_id,
        clean=clean,
    )
    root = context.layout.snapshots.resolve()
    if path is None or not path.resolve().is_relative_to(root) or not path.is_file():
        raise HTTPException(404, f"event {event_id} has no snapshot")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{event_id}/review")
def review(event_id: EventId, body: ReviewBody, request: Request) -> dict[str, Any]:
    """Acknowledge the event or mark it a false alarm, with a note."""
    context = context_of(request)
    event = _event(request, event_id)
    reviews = ReviewStore(context.engine)
    reviews.put(
        event_id,
        body.verdict,
        body.note,
        caller_of(request).name,
        audit=lambda connection: context.audit(
            request,
            "event.review",
            "ok",
            [event.camera],
            event.start_us,
            event.end_us,
            connection=connection,
            event=event_id,
            verdict=body.verdict,
            note=body.note,
        ),
    )
    return event_json(event, reviews.get_many([event_id])[event_id])
