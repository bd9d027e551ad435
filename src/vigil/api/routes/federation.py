"""The hub's view of every site: their states, their events, the timeline of what footage is
where, and retrieval of footage from a site. Only a hub answers these (404 elsewhere); an
account sees the sites of its scope (users.sites; none set: all)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from vigil.api.context import CASE, REASON_MAX, REASON_MIN, ApiContext, caller_of, context_of
from vigil.api.evidence import answer, auditor
from vigil.api.params import NO_NUL, Since, Until, moment, time_range
from vigil.api.security import EnforcedRoute
from vigil.errors import EvidenceError
from vigil.events.model import EventType
from vigil.events.store import EventStore
from vigil.federation.home import Home
from vigil.federation.status import hub_status
from vigil.settings.federation import SITE_NAME
from vigil.storage.retrievals import RetrievalStore
from vigil.storage.schema import site_alarms, site_cameras, site_segments
from vigil.timeutil import to_iso

router = APIRouter(prefix="/api/v1/federation", tags=["federation"], route_class=EnforcedRoute)
SiteName = Annotated[str, Path(pattern=SITE_NAME.pattern, description="the site's name")]
CameraName = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]
Name = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]


class RetrievalBody(BaseModel):
    site: str = Field(pattern=SITE_NAME.pattern)
    camera: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    since: str = Field(max_length=64, description="ISO 8601")
    until: str = Field(max_length=64, description="ISO 8601")
    case: str = Field(pattern=CASE.pattern)
    reason: str = Field(min_length=REASON_MIN, max_length=REASON_MAX, pattern=NO_NUL)


def _hub(context: ApiContext) -> Home:
    settings = context.config.federation
    if not context.config.is_hub or settings is None:
        raise HTTPException(404, "this node is not a hub (federation.role: hub)")
    return Home(settings.home(context.config.storage.path))


def _sites(request: Request, home: Home) -> set[str]:
    """The sites the caller may see."""
    user = caller_of(request).user
    known = {site.site for site in home.site_secrets()}
    if user is None or (user.sites is None and user.cameras is None):
        return known if user is not None else set()
    return known & set(user.sites or ())


def _site(request: Request, home: Home, name: str) -> str:
    if name not in _sites(request, home):
        context_of(request).refuse(request, "federation.site", "denied", [], why="scope", site=name)
        raise HTTPException(404, f"site {name!r} not found")
    return name


@router.get("/sites")
def list_sites(request: Request) -> dict[str, Any]:
    """Every site in scope: its link, when it last sent, its replication lag (p50/p95 over the
    last hour), its cameras online, its alarms."""
    context = context_of(request)
    home = _hub(context)
    visible = _sites(request, home)
    settings = context.config.federation
    assert settings is not None
    report = hub_status(settings, home, context.engine)
    with context.engine.connect() as connection:
        online = dict(
            connection.execute(
                select(site_cameras.c.site, func.count())
                .where(site_cameras.c.state == "recording")
                .group_by(site_cameras.c.site)
            ).all()
        )
        cameras = dict(
            connection.execute(
                select(site_cameras.c.site, func.count()).group_by(site_cameras.c.site)
            ).all()
        )
        alarms = connection.execute(select(site_alarms)).all()
    entries = []
    for entry in report["sites"]:
        name = entry["site"]
        if name not in visible:
            continue
        entries.append(
            {
                **entry,
                "last_message": to_iso(entry["last_message"]),
                "last_ingest": to_iso(entry["last_ingest"]),
                "cameras": cameras.get(name, 0),
                "cameras_online": online.get(name, 0),
                "alarms": [
                    {
                        "kind": a.kind,
                        "subject": a.subject,
                        "message": a.message,
                        "raised": to_iso(a.raised_us),
                    }
                    for a in alarms
                    if a.site == name
                ],
            }
        )
    return {"sites": entries}


@router.get("/events")
def search_events(
    request: Request,
    site: Name = None,
    camera: Name = None,
    type: Annotated[str | None, Query(description=" | ".join(get_args(EventType)))] = None,
    label: Name = None,
    zone: Name = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Events from every site in scope, with a site's filters, newest first."""
    context = context_of(request)
    home = _hub(context)
    if type is not None and type not in get_args(EventType):
        raise HTTPException(422, f"type {type!r} is unknown; use one of {get_args(EventType)}")
    sites = {_site(request, home, site)} if site is not None else _sites(request, home)
    since_us, until_us = time_range(since, until, default_s=24 * 3600)
    filters = {
        k: v
        for k, v in (
            ("site", site),
            ("camera", camera),
            ("type", type),
            ("label", label),
            ("zone", zone),
        )
        if v is not None
    }
    context.audit(
        request, "events.search", "ok", [camera] if camera else [], since_us, until_us, **filters
    )
    found = EventStore(context.engine, context.layout.snapshots).find(
        camera=camera,
        type=type,
        since_us=since_us,
        until_us=until_us,
        limit=limit,
        label=label,
        zone=zone,
        sites=sites,
    )
    return {"events": [{**e.to_json(), "site": e.site} for e in found]}


@router.get("/sites/{site}/cameras/{camera}/timeline")
def timeline(
    site: SiteName, camera: CameraName, request: Request, since: Since = None, until: Until = None
) -> dict[str, Any]:
    """What footage of the camera is where: retrieved (a verified copy at the hub), available
    (at the site only), or gone (the site's retention erased it)."""
    context = context_of(request)
    _site(request, _hub(context), site)
    since_us, until_us = time_range(since, until, default_s=24 * 3600)
    context.audit(request, "federation.timeline", "ok", [camera], since_us, until_us, site=site)
    with context.engine.connect() as connection:
        rows = connection.execute(
            select(site_segments)
            .where(
                site_segments.c.site == site,
                site_segments.c.camera == camera,
                site_segments.c.end_us > since_us,
                site_segments.c.start_us < until_us,
            )
            .order_by(site_segments.c.start_us)
        ).all()
    return {
        "site": site,
        "camera": camera,
        "segments": [
            {
                "start": to_iso(r.start_us),
                "end": to_iso(r.end_us),
                "bytes": r.bytes,
                "state": r.state,
                "hold": r.hold,
            }
            for r in rows
        ],
    }


@router.get("/retrievals")
def list_retrievals(request: Request) -> dict[str, Any]:
    context = context_of(request)
    visible = _sites(request, _hub(context))
    context.audit(request, "retrievals.list", "ok")
    return {"retrievals": [j.to_json() for j in RetrievalStore(context.engine).list(visible)]}


@router.post("/retrievals", status_code=201)
def request_retrieval(body: RetrievalBody, request: Request) -> dict[str, Any]:
    """Ask a site for a camera's footage over a range, with a case and a reason: audited here,
    and by the site when the job reaches it."""
    context = context_of(request)
    _site(request, _hub(context), body.site)
    since_us, until_us = moment(body.since, "since"), moment(body.until, "until")
    assert since_us is not None and until_us is not None  # the body requires both
    if until_us <= since_us:
        raise HTTPException(422, "until must be after since")
    try:
        job = RetrievalStore(context.engine).request(
            body.site,
            body.camera,
            (since_us, until_us),
            body.case,
            body.reason,
            caller_of(request).name,
            auditor(request, [body.camera], since_us, until_us),
        )
    except EvidenceError as exc:
        raise answer(exc) from None
    return job.to_json()
