"""Recorded footage: the timeline of a camera, HLS playlists and MP4 playback, all from the
stored segments without re-encoding. Every request names a case and a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as InPath
from fastapi.responses import Response, StreamingResponse

from vigil.api.context import caller_of, context_of
from vigil.api.evidence import answer, auditor, refused
from vigil.api.params import MAX_ID, Since, Until, time_range
from vigil.api.security import EnforcedRoute
from vigil.errors import EvidenceError, StorageError
from vigil.events.store import EventStore
from vigil.masks import PrivacyMasks
from vigil.playback.hls import GAP_TOLERANCE_US, playable, playlist, spans
from vigil.playback.masked import masked_fmp4, masked_hls_segment
from vigil.playback.remux import fragmented_mp4, hls_segment
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.lifts import LiftStore
from vigil.storage.schema import segments
from vigil.timeutil import US, to_iso

router = APIRouter(tags=["playback"], route_class=EnforcedRoute)


def _playable(request: Request, camera: str, since_us: int, until_us: int) -> list[Segment]:
    return playable(SegmentIndex(context_of(request).engine).find(camera, since_us, until_us))


@router.get("/api/v1/recordings/{camera}")
def recordings(
    camera: str, request: Request, since: Since = None, until: Until = None
) -> dict[str, Any]:
    """The timeline of [since, until] (default: the last hour): segments, recorded spans (the
    rest is gaps) and the camera's events."""
    context = context_of(request)
    context.camera(request, camera)
    since_us, until_us = time_range(since, until)
    context.within_lookback(request, [camera], since_us)
    context.audit(request, "recordings.list", "ok", [camera], since_us, until_us)
    found = _playable(request, camera, since_us, until_us)
    store = EventStore(context.engine, context.layout.snapshots)
    found_events = store.find(camera=camera, since_us=since_us, until_us=until_us, limit=1000)
    return {
        "camera": camera,
        "since": to_iso(since_us),
        "until": to_iso(until_us),
        "segments": [
            {"id": s.id, "start": to_iso(s.start_us), "end": to_iso(s.end_us), "bytes": s.bytes}
            for s in found
        ],
        "spans": [
            {"start": to_iso(a), "end": to_iso(b)} for a, b in spans(found, GAP_TOLERANCE_US)
        ],
        # Footage a hold keeps from deletion (cases and holds: /api/v1/holds).
        "held": [
            {"start": to_iso(a), "end": to_iso(b)}
            for a, b in spans([s for s in found if s.hold], GAP_TOLERANCE_US)
        ],
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "label": e.label,
                "zone": e.zone,
                "start": to_iso(e.start_us),
                "end": to_iso(e.end_us),
            }
            for e in found_events
        ],
    }


LiftParam = Annotated[
    int | None,
    Query(ge=1, le=2**31 - 1, description="a mask lift to spend on this request (used once)"),
]


def _masks(
    request: Request, camera: str, lift: int | None, span: tuple[int, int], what: str
) -> PrivacyMasks:
    """The masks to burn into this request's footage: none for an unmasked camera, or when a
    lift of the caller's is spent on it (audited, in the lift's transaction)."""
    context = context_of(request)
    masks = PrivacyMasks(context.config.cameras[camera].privacy_masks)
    if lift is None or not masks:
        return masks
    try:
        LiftStore(context.engine).use(
            lift, caller_of(request).name, camera, span, what, auditor(request, [camera], *span)
        )
    except EvidenceError as exc:
        refused(request, "mask.lift.use", exc, [camera])
        raise answer(exc) from None
    return PrivacyMasks([])


@router.get("/api/v1/playback/{camera}/playlist.m3u8")
def hls_playlist(
    camera: str, request: Request, since: Since = None, until: Until = None, lift: LiftParam = None
) -> Response:
    """An HLS VOD playlist of [since, until] built from the stored MPEG-TS segments; its
    segment URLs carry a grant tied to this (audited) request and to the account."""
    context = context_of(request)
    context.camera(request, camera)
    since_us, until_us = time_range(since, until)
    context.within_lookback(request, [camera], since_us)
    found = _playable(request, camera, since_us, until_us)
    masks = _masks(request, camera, lift, (since_us, until_us), "playback")
    seq = context.audit(
        request,
        "playback",
        "ok",
        [camera],
        since_us,
        until_us,
        format="hls",
        segments=len(found),
        masked=bool(masks),
    )
    last_segment = max((s.id for s in found), default=0)
    grant = context.grants.issue(
        caller_of(request).credential, camera, seq, (since_us, until_us), last_segment,
        unmasked=not masks,
    )  # fmt: skip
    text = playlist(found, lambda s: f"segments/{s.id}.ts?grant={grant}")
    return Response(
        text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-store"}
    )


@router.get("/api/v1/playback/{camera}/segments/{segment_id}.ts", response_class=StreamingResponse)
def segment(
    camera: str,
    segment_id: Annotated[int, InPath(ge=1, le=MAX_ID)],
    request: Request,
    grant: Annotated[str, Query(max_length=200)] = "",
) -> StreamingResponse:
    """One segment of a playlist, with the grant the playlist gave: stream copy, stamped with
    its recording time so that the playlist's segments continue each other. Only segments of
    the playlist's audited range pass, and only while the audit trail could record access."""
    context = context_of(request)
    context.camera(request, camera)
    found = context.grants.check(grant, caller_of(request).credential, camera)
    if found is None:
        raise HTTPException(403, "no valid grant: request the playlist again (with a reason)")
    with context.engine.connect() as connection:
        row = connection.execute(
            segments.select().where(segments.c.id == segment_id, segments.c.camera == camera)
        ).first()
    if row is None or row.state != "ok":
        raise HTTPException(404, f"segment {segment_id} of camera {camera!r} not found")
    if not found.covers(row.id, row.start_us, row.end_us):
        raise HTTPException(
            403,
            f"segment {segment_id} is outside the playlist's audited range; request a "
            "playlist of its time (with a reason)",
        )
    context.ensure_auditable()
    path = _inside(context.layout.recordings, context.layout.absolute(row.path))
    masks = PrivacyMasks(context.config.cameras[camera].privacy_masks)
    try:
        if masks and not found.unmasked:
            body = masked_hls_segment(path, row.start_us, masks)
        else:
            body = hls_segment(path, row.start_us)
    except StorageError as exc:
        raise HTTPException(404, str(exc)) from None
    return StreamingResponse(body, media_type="video/mp2t")


@router.get("/api/v1/playback/{camera}/video.mp4", response_class=StreamingResponse)
def mp4(
    camera: str, request: Request, since: Since = None, until: Until = None, lift: LiftParam = None
) -> StreamingResponse:
    """[since, until] as one fragmented MP4 for a browser's <video>, remuxed from the stored
    segments without re-encoding; gaps are skipped. Seek by asking again from another time."""
    context = context_of(request)
    context.camera(request, camera)
    since_us, until_us = time_range(since, until)
    context.within_lookback(request, [camera], since_us)
    found = _playable(request, camera, since_us, until_us)
    if not found:
        context.audit(request, "playback", "empty", [camera], since_us, until_us, format="mp4")
        raise HTTPException(404, f"camera {camera!r} has no recording in that time")
    masks = _masks(request, camera, lift, (since_us, until_us), "playback")
    context.audit(request, "playback", "ok", [camera], since_us, until_us, format="mp4",
                  segments=len(found), masked=bool(masks))  # fmt: skip
    paths = [_inside(context.layout.recordings, context.layout.absolute(s.path)) for s in found]
    offset_s = max(0.0, (since_us - found[0].start_us) / US)
    first_start = max(since_us, found[0].start_us)
    body = masked_fmp4(paths, masks, offset_s) if masks else fragmented_mp4(paths, offset_s)
    return StreamingResponse(
        body,
        media_type="video/mp4",
        headers={"Cache-Control": "no-store", "X-Vigil-Start": to_iso(first_start) or ""},
    )


def _inside(root: Path, path: Path) -> Path:
    """A stored path, refused if it would lead outside the storage it belongs to."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise HTTPException(404, "not found")
    return resolved
