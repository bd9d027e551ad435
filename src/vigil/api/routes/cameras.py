"""Cameras and their health, and live view."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from vigil.api.context import context_of
from vigil.api.security import EnforcedRoute
from vigil.errors import AuditError
from vigil.masks import PrivacyMasks
from vigil.playback.live import NoFootage, live_fmp4
from vigil.storage.index import SegmentIndex
from vigil.storage.report import status_report

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"], route_class=EnforcedRoute)
log = logging.getLogger(__name__)


def camera_reports(request: Request) -> dict[str, dict[str, Any]]:
    context = context_of(request)
    visible = set(context.visible_cameras(request))
    cameras = status_report(context.config, context.engine)["cameras"]
    return {
        name: {"name": name, **c, "masked": bool(context.config.cameras[name].privacy_masks)}
        for name, c in cameras.items()
        if name in visible
    }


@router.get("")
def list_cameras(request: Request) -> dict[str, Any]:
    """The cameras the account may see: state, fps, bitrate, last packet, site, location,
    storage used and the retention horizon reached."""
    context = context_of(request)
    return {
        "cameras": list(camera_reports(request).values()),
        "map": {"tile_url": context.config.api.tile_url},
    }


@router.get("/{name}")
def get_camera(name: str, request: Request) -> dict[str, Any]:
    """One camera's state and recordings summary."""
    context_of(request).camera(request, name)
    return camera_reports(request)[name]


@router.get("/{name}/live.mp4", response_class=StreamingResponse)
async def live(name: str, request: Request) -> StreamingResponse:
    """Live view: the camera's own H.264, remuxed (not transcoded) to fragmented MP4 as it is
    recorded; a camera with privacy masks is re-encoded with them burned in (live view has
    no lift: lifts are for recorded footage, under a case). The start and the end of
    watching are audited."""
    context = context_of(request)
    context.camera(request, name)
    stop = threading.Event()
    try:
        masks = PrivacyMasks(context.config.cameras[name].privacy_masks)
        frames = live_fmp4(context.config.storage.path, name, SegmentIndex(context.engine),
                           stop=stop.is_set, masks=masks)  # fmt: skip
    except NoFootage as exc:
        raise HTTPException(404, str(exc)) from None
    # Audited before the first byte of video leaves; an unwritable trail refuses the view.
    await run_in_threadpool(context.audit, request, "live.start", "ok", [name])
    first = await run_in_threadpool(next, frames, b"")

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield first
            while chunk := await run_in_threadpool(next, frames, b""):
                yield chunk
        finally:
            stop.set()
            try:
                context.audit(request, "live.stop", "ok", [name])
            except (AuditError, HTTPException) as exc:
                log.error(
                    "cannot audit the end of a live view", extra={"camera": name, "error": str(exc)}
                )

    return StreamingResponse(
        stream(), media_type="video/mp4", headers={"Cache-Control": "no-store"}
    )
