"""Events in the index database, with their snapshots, linked to the recordings.

Every write is keyed by the event id (a UUIDv7 made at the edge): a repeated `new` is ignored,
an `update` or `end` whose `new` was lost still stores the event, so redelivery is harmless.
The box is kept normalised to 0..1 of the snapshot's frame (what a UI draws with), together with
the frame's size (so pixels can be recovered); a box given without its frame is not stored, as
it means nothing without the picture. Snapshot files are written before the row that names
them, as segments are.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Insert, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vigil.box import Box
from vigil.errors import StorageError
from vigil.events.model import Event, EventUpdate
from vigil.events.payload import box_list, event_json
from vigil.events.snapshots import SnapshotPaths, relative_paths, write_snapshots
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.layout import fsync_dir
from vigil.storage.schema import event_reviews, events
from vigil.timeutil import US, now_us

log = logging.getLogger(__name__)

EXPIRE_BATCH = 500  # events per expiry transaction

DEFAULT_LIMIT = 100
KEY = ["id", "start_us"]  # the events table's key (schema.py)


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: times in UTC microseconds, box normalised to 0..1 of its frame."""

    id: str
    camera: str
    type: str
    start_us: int
    end_us: int | None
    label: str | None
    zone: str | None
    score: float | None
    box: Box | None  # normalised 0..1 of the snapshot's frame
    frame_size: tuple[int, int] | None  # (width, height) of that frame
    attributes: dict[str, Any] = field(default_factory=dict)
    snapshot: Path | None = None  # the JPEG with the box drawn
    clean_snapshot: Path | None = None
    site: str | None = None  # at the hub, the site it came from

    @property
    def pixel_box(self) -> Box | None:
        """The box in pixels of the analysed frame, as the analysis reported it."""
        if self.box is None or self.frame_size is None:
            return None
        width, height = self.frame_size
        b = self.box
        return Box(b.x1 * width, b.y1 * height, b.x2 * width, b.y2 * height)

    def to_json(self, **extras: Any) -> dict[str, Any]:
        """The event's JSON with what the index knows besides: its box normalised to the
        snapshot (what the console draws with), that frame's size, whether it has a snapshot."""
        return event_json(
            self.to_event(),
            box_normalised=box_list(self.box, digits=4),
            frame=list(self.frame_size) if self.frame_size else None,
            snapshot=self.snapshot is not None,
            **extras,
        )

    def to_event(self) -> Event:
        return Event(
            id=self.id, camera=self.camera, type=self.type,  # type: ignore[arg-type]
            start_us=self.start_us, end_us=self.end_us, label=self.label, zone=self.zone,
            score=self.score, box=self.pixel_box, attributes=dict(self.attributes),
        )  # fmt: skip


def _normalised(box: Box | None, width: int, height: int) -> dict[str, float | None]:
    if box is None:
        return dict.fromkeys(("box_x1", "box_y1", "box_x2", "box_y2"))

    def clip(value: float) -> float:
        return min(1.0, max(0.0, value))

    return {
        "box_x1": clip(box.x1 / width),
        "box_y1": clip(box.y1 / height),
        "box_x2": clip(box.x2 / width),
        "box_y2": clip(box.y2 / height),
    }


class EventStore:
    def __init__(self, engine: Engine, snapshots_dir: Path) -> None:
        self.engine = engine
        self.snapshots_dir = snapshots_dir
        self.segments = SegmentIndex(engine)

    def apply(self, update: EventUpdate, frame: np.ndarray | None = None) -> None:
        """Store a new, updated or ended event; `frame` (BGR or grey) is the moment it shows."""
        event = update.event
        stored = self.get(event.id)
        if stored is None:
            self._insert(event, frame, ended=update.phase == "end")
        else:
            self._merge(stored, event, frame, ended=update.phase == "end")

    def expire(self, camera: str, ended_before_us: int, limit: int = EXPIRE_BATCH) -> int:
        """Events of the camera that ended before the time go, with their footage (retention
        calls this): snapshots unlinked and their folders fsynced first, then the event rows
        and their reviews in one transaction, so no row ever names a missing snapshot and no
        review outlives its event. Returns how many went; call again while it returns limit."""
        query = select(events.c.id, events.c.snapshot, events.c.clean_snapshot).where(
            events.c.camera == camera, events.c.end_us < ended_before_us
        )
        with self.engine.connect() as connection:
            rows = list(connection.execute(query.limit(limit)))
        if not rows:
            return 0
        folders = set()
        for row in rows:
            for relative in (row.snapshot, row.clean_snapshot):
                if relative:
                    path = self.snapshots_dir / relative
                    path.unlink(missing_ok=True)
                    folders.add(path.parent)
        for folder in folders:
            if folder.exists():
                fsync_dir(folder)
        ids = [row.id for row in rows]
        with self.engine.begin() as connection:
            connection.execute(delete(event_reviews).where(event_reviews.c.event_id.in_(ids)))
            connection.execute(delete(events).where(events.c.id.in_(ids)))
        log.info("retention: deleted events", extra={"camera": camera, "count": len(rows)})
        return len(rows)

    def get(self, event_id: str) -> StoredEvent | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(events).where(events.c.id == event_id)).first()
        return None if row is None else self._stored(row)

    def find(
        self,
        camera: str | None = None,
        type: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int | None = DEFAULT_LIMIT,
        cameras: Collection[str] | None = None,
        label: str | None = None,
        zone: str | None = None,
        sites: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """Events overlapping [since, until] (open events reach now), newest first; `cameras`
        limits the search to a set (an account's scope), `sites` at the hub to those sites."""
        query = select(events)
        if sites is not None:
            query = query.where(events.c.site.in_(sorted(sites)))
        if camera is not None:
            query = query.where(events.c.camera == camera)
        if cameras is not None:
            query = query.where(events.c.camera.in_(sorted(cameras)))
        if type is not None:
            query = query.where(events.c.type == type)
        if label is not None:
            query = query.where(events.c.label == label)
        if zone is not None:
            query = query.where(events.c.zone == zone)
        if since_us is not None:
            query = query.where(or_(events.c.end_us.is_(None), events.c.end_us >= since_us))
        if until_us is not None:
            query = query.where(events.c.start_us <= until_us)
        query = query.order_by(events.c.start_us.desc(), events.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [self._stored(row) for row in connection.execute(query)]

    def end_abandoned(self, cameras: Collection[str], keep: Collection[str] = ()) -> int:
        """End the still-open events of these cameras at their last update: they belong to a
        process that died (a crash, the watchdog, a power cut), and nothing will end them now.
        Events of the `keep` types have another, living owner."""
        if not cameras:
            return 0
        query = (
            update(events)
            .where(
                events.c.end_us.is_(None),
                events.c.camera.in_(sorted(cameras)),
                events.c.type.not_in(sorted(keep)),
            )
            # updated_us moves too, so the uplink sends the hub the ended event.
            .values(end_us=events.c.updated_us, updated_us=now_us())
        )
        with self.engine.begin() as connection:
            return int(connection.execute(query).rowcount)

    def segments_for(
        self, event: Event | StoredEvent, pre_s: float, post_s: float
    ) -> list[Segment]:
        """The recording of [start - pre, end + post] (an open event reaches now), oldest first."""
        end_us = event.end_us if event.end_us is not None else now_us()
        return self.segments.find(
            event.camera, event.start_us - int(pre_s * US), end_us + int(post_s * US)
        )

    def _insert(self, event: Event, frame: np.ndarray | None, ended: bool) -> None:
        values = self._values(event)
        values["end_us"] = event.end_us if event.end_us is not None or not ended else now_us()
        values["score"] = event.score
        values["attributes"] = dict(event.attributes)
        if frame is not None:
            values.update(self._snapshot(event, frame, event.label))
        with self.engine.begin() as connection:
            connection.execute(self._insert_or_ignore(connection).values(**values))

    def _merge(
        self, stored: StoredEvent, event: Event, frame: np.ndarray | None, ended: bool
    ) -> None:
        values = self._values(event)
        values["label"] = event.label or stored.label
        values["zone"] = event.zone or stored.zone
        values["end_us"] = event.end_us if event.end_us is not None else stored.end_us
        if ended and values["end_us"] is None:
            values["end_us"] = now_us()
        values["attributes"] = {**stored.attributes, **event.attributes}
        # The snapshot, box and score stay those of the best moment seen.
        better = event.score is not None and (stored.score is None or event.score > stored.score)
        if better and (frame is not None or stored.snapshot is None):
            values["score"] = event.score
        if frame is not None and (better or stored.snapshot is None):
            values.update(self._snapshot(event, frame, values["label"]))
        with self.engine.begin() as connection:
            connection.execute(update(events).where(events.c.id == event.id).values(**values))

    @staticmethod
    def _values(event: Event) -> dict[str, Any]:
        return {
            "id": event.id,
            "camera": event.camera,
            "type": event.type,
            "label": event.label,
            "zone": event.zone,
            "start_us": event.start_us,
            "updated_us": now_us(),
        }

    def _snapshot(self, event: Event, frame: np.ndarray, label: str | None) -> dict[str, Any]:
        height, width = frame.shape[:2]
        paths: SnapshotPaths = relative_paths(event.camera, event.id, event.start_us)
        caption = label or event.type
        if event.score is not None:
            caption = f"{caption} {event.score:.0%}"
        write_snapshots(self.snapshots_dir, paths, frame, event.box, caption)
        values: dict[str, Any] = {
            "snapshot": paths.boxed,
            "clean_snapshot": paths.clean,
            "frame_width": width,
            "frame_height": height,
        }
        values.update(_normalised(event.box, width, height))
        return values

    def _insert_or_ignore(self, connection: Connection) -> Insert:
        name = connection.dialect.name
        if name == "sqlite":
            return sqlite.insert(events).on_conflict_do_nothing(index_elements=KEY)
        if name == "postgresql":
            return postgresql.insert(events).on_conflict_do_nothing(index_elements=KEY)
        raise StorageError(f"events: database {name!r} is not supported; use SQLite or PostgreSQL")

    def _stored(self, row: Any) -> StoredEvent:
        r = row._mapping
        corners = (r["box_x1"], r["box_y1"], r["box_x2"], r["box_y2"])
        box = Box(*corners) if None not in corners else None
        size = (r["frame_width"], r["frame_height"]) if r["frame_width"] is not None else None
        return StoredEvent(
            id=r["id"], camera=r["camera"], type=r["type"], start_us=r["start_us"],
            end_us=r["end_us"], label=r["label"], zone=r["zone"], score=r["score"], box=box,
            frame_size=size, attributes=dict(r["attributes"] or {}),
            snapshot=self.snapshots_dir / r["snapshot"] if r["snapshot"] else None,
            clean_snapshot=(
                self.snapshots_dir / r["clean_snapshot"] if r["clean_snapshot"] else None
            ),
            site=r["site"],
        )  # fmt: skip
