"""Exports: an investigator asks for a camera's footage over a range to leave Vigil for a case,
redacted by default; an unredacted export waits for a supervisor who is not the requester.
The exporter makes the package; taking it (download) or opening it (playback) is audited with
its reason, like any other look at footage."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as InPath
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from vigil.api.context import CASE, REASON_MAX, REASON_MIN, caller_of, context_of
from vigil.api.evidence import answer, auditor, decide, refused
from vigil.api.params import NO_NUL, moment
from vigil.api.security import EnforcedRoute
from vigil.errors import EvidenceError
from vigil.export.names import DERIVATIVE, MANIFEST
from vigil.playback.fmp4 import Chunks
from vigil.playback.remux import fragmented_mp4
from vigil.storage.exports import Export, ExportStore
from vigil.storage.lifts import LiftStore

router = APIRouter(prefix="/api/v1", tags=["evidence"], route_class=EnforcedRoute)

ExportId = Annotated[int, InPath(ge=1, le=2**31 - 1, description="the export's number")]
ORIGINALS = "originals.mp4"  # an unredacted package's segments, remuxed for a browser
CHUNK = 1 << 20


class ExportBody(BaseModel):
    case: str = Field(pattern=CASE.pattern)
    camera: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    since: str = Field(max_length=64, description="ISO 8601")
    until: str = Field(max_length=64, description="ISO 8601")
    reason: str = Field(min_length=REASON_MIN, max_length=REASON_MAX, pattern=NO_NUL)
    redacted: bool = Field(
        True, description="false asks for the originals alone, which a supervisor must approve"
    )
    lift: int | None = Field(
        None, ge=1, le=2**31 - 1, description="a mask lift to spend: the masks are not burned in"
    )


def _visible(request: Request, export_id: int) -> Export:
    context = context_of(request)
    job = ExportStore(context.engine).get(export_id)
    if job is None or not context.can_see(request, job.camera):
        if job is not None:
            context.refuse(request, "export.view", "denied", [job.camera], why="scope")
        raise HTTPException(404, f"export {export_id} not found")
    return job


def _package(request: Request, job: Export) -> Path:
    context_of(request).within_lookback(request, [job.camera], job.since_us)
    if job.state != "complete" or job.package is None:
        raise HTTPException(409, f"export {job.id} is {job.state}, not complete: no package yet")
    path = context_of(request).layout.exports / job.package
    if not (path / MANIFEST).is_file():
        raise HTTPException(410, f"the package of export {job.id} is no longer on this node")
    return path


@router.get("/exports")
def list_exports(
    request: Request, case: Annotated[str | None, Query(pattern=CASE.pattern)] = None
) -> dict[str, Any]:
    """Exports of the cameras the account may see, newest first, with their progress."""
    context = context_of(request)
    context.audit(request, "exports.list", "ok", case_filter=case)
    visible = set(context.visible_cameras(request))
    found = ExportStore(context.engine).list(case_reference=case, cameras=visible)
    return {"exports": [job.to_json() for job in found]}


@router.post("/exports", status_code=201)
def request_export(body: ExportBody, request: Request) -> dict[str, Any]:
    """Ask for a camera's footage over a range to be exported for a case. Redacted exports
    are queued at once; unredacted ones wait for a supervisor other than the requester."""
    context = context_of(request)
    context.camera(request, body.camera)
    since_us, until_us = moment(body.since, "since"), moment(body.until, "until")
    assert since_us is not None and until_us is not None  # the body requires both
    context.within_lookback(request, [body.camera], since_us)
    masked = bool(context.config.cameras[body.camera].privacy_masks)
    if masked and not body.redacted and body.lift is None:
        raise HTTPException(
            422,
            f"the originals show what camera {body.camera!r}'s privacy masks hide: an unredacted "
            "export of it needs a mask lift (POST /api/v1/lifts), given as lift",
        )
    if masked and body.lift is not None:
        try:
            LiftStore(context.engine).use(
                body.lift,
                caller_of(request).name,
                body.camera,
                (since_us, until_us),
                "export",
                auditor(request, [body.camera], since_us, until_us),
            )
        except EvidenceError as exc:
            refused(request, "mask.lift.use", exc, [body.camera])
            raise answer(exc) from None
    try:
        job = ExportStore(context.engine).request(
            body.case,
            body.camera,
            since_us,
            until_us,
            body.redacted,
            body.reason,
            caller_of(request).name,
            auditor(request, [body.camera], since_us, until_us),
            unmasked=masked and body.lift is not None,
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return job.to_json()


@router.get("/exports/{export_id}")
def get_export(export_id: ExportId, request: Request) -> dict[str, Any]:
    """The job and its progress (bytes and segments done); the console polls it."""
    return _visible(request, export_id).to_json()


def _decide(request: Request, export_id: int, action: str, how: str) -> dict[str, Any]:
    job = _visible(request, export_id)
    change = getattr(ExportStore(context_of(request).engine), how)
    decided: Export = decide(
        request,
        action,
        lambda user, audit: change(export_id, user, audit),
        [job.camera],
        (job.since_us, job.until_us),
    )
    return decided.to_json()


@router.post("/exports/{export_id}/approve")
def approve_export(export_id: ExportId, request: Request) -> dict[str, Any]:
    """The second person of an unredacted export: it is queued. Never the requester."""
    return _decide(request, export_id, "export.approve", "approve")


@router.post("/exports/{export_id}/refuse")
def refuse_export(export_id: ExportId, request: Request) -> dict[str, Any]:
    """Turn an unredacted export request down."""
    return _decide(request, export_id, "export.refuse", "refuse")


@router.post("/exports/{export_id}/cancel")
def cancel_export(export_id: ExportId, request: Request) -> dict[str, Any]:
    """Stop an export that has not finished; what it had written is removed."""
    return _decide(request, export_id, "export.cancel", "cancel")


@router.get("/exports/{export_id}/package.zip", response_class=StreamingResponse)
def download(export_id: ExportId, request: Request) -> StreamingResponse:
    """The package as one .zip, made as it is sent: the footage leaves Vigil here, so the
    audit record (with the case and reason) is written first, or nothing is sent."""
    context = context_of(request)
    job = _visible(request, export_id)
    path = _package(request, job)
    context.audit(
        request,
        "export.download",
        "ok",
        [job.camera],
        job.since_us,
        job.until_us,
        export=job.id,
        redacted=job.redacted,
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{path.name}.zip"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(_zipped(path), media_type="application/zip", headers=headers)


@router.get("/exports/{export_id}/open")
def open_package(export_id: ExportId, request: Request) -> dict[str, Any]:
    """The package's manifest and a playable video (the redacted derivative, or the originals
    of an unredacted package), for the console's player; the opening is audited."""
    context = context_of(request)
    job = _visible(request, export_id)
    path = _package(request, job)
    seq = context.audit(
        request,
        "export.open",
        "ok",
        [job.camera],
        job.since_us,
        job.until_us,
        export=job.id,
        redacted=job.redacted,
    )
    grant = context.grants.issue(caller_of(request).credential, _subject(job), seq, (0, 0), 0)
    video = DERIVATIVE if job.redacted else ORIGINALS
    return {
        "export": job.to_json(),
        "manifest": json.loads((path / MANIFEST).read_text()),
        "video": f"/api/v1/exports/{job.id}/files/{video}?grant={grant}",
    }


@router.get("/exports/{export_id}/files/{name}", response_model=None)
def package_file(
    export_id: ExportId,
    name: Annotated[str, InPath(pattern=f"^({DERIVATIVE}|{ORIGINALS})$")],
    request: Request,
    grant: Annotated[str, Query(max_length=200)] = "",
) -> FileResponse | StreamingResponse:
    """The video an audited opening of the package granted."""
    context = context_of(request)
    job = _visible(request, export_id)
    if context.grants.check(grant, caller_of(request).credential, _subject(job)) is None:
        raise HTTPException(403, "no valid grant: open the package again (with a reason)")
    path = _package(request, job)
    context.ensure_auditable()
    if name == DERIVATIVE and job.redacted:
        return FileResponse(path / DERIVATIVE, media_type="video/mp4")
    if name == ORIGINALS and not job.redacted:
        manifest = json.loads((path / MANIFEST).read_text())
        files = [path / entry["file"] for entry in manifest["segments"]]
        return StreamingResponse(fragmented_mp4(files), media_type="video/mp4")
    raise HTTPException(404, f"export {job.id} has no {name}")


def _subject(job: Export) -> str:
    """What a package's grant is bound to, in place of a camera."""
    return f"export:{job.id}"


def _zipped(path: Path) -> Iterator[bytes]:
    """The package directory as a stored (not compressed: video does not shrink) zip."""
    sink = Chunks()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
        for file in files:
            name = f"{path.name}/{file.relative_to(path)}"
            with open(file, "rb") as reading, archive.open(name, "w", force_zip64=True) as entry:
                while chunk := reading.read(CHUNK):
                    entry.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
