"""What `vigil events` prints: stored events and where their footage is, as metadata only.

No file path: footage and snapshots leave Vigil through the console's authorised, audited
routes alone, and the command line is not one of them (docs/architecture.md, "Footage
leaves through the API")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from vigil.config import VigilConfig
from vigil.events.store import DEFAULT_LIMIT, EventStore, StoredEvent
from vigil.storage.layout import Layout


def event_report(
    store: EventStore, event: StoredEvent, pre_s: float, post_s: float
) -> dict[str, Any]:
    """One event as JSON-ready data; `recording` lists the ids of the segments of
    [start - pre, end + post], oldest first, which playback of the event needs."""
    return event.to_json(recording=[s.id for s in store.segments_for(event, pre_s, post_s)])


def list_events(
    config: VigilConfig,
    engine: Engine,
    camera: str | None = None,
    type: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """Events overlapping [since, until], newest first, each with its snapshots and recording."""
    store = EventStore(engine, Layout(config.storage.path).snapshots)
    found = store.find(camera=camera, type=type, since_us=since_us, until_us=until_us, limit=limit)
    reports = []
    for event in found:
        record = config.record_for(event.camera)
        reports.append(event_report(store, event, record.pre_seconds, record.post_seconds))
    return reports
