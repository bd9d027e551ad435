"""What a site has not yet put into its stream, read from its database in order.

Each source is a table with a position that only grows (audit seq, checkpoint size, segment
id, update time), and the uplink stores how far its stream has acknowledged each one
(uplink_cursors). After a crash it starts again from the last stored position: messages sent
since are sent again with the same Nats-Msg-Id, and the hub's keys make them change nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from vigil.audit.log import canonical_json, read_checkpoints, read_records
from vigil.storage.schema import alarms, camera_status, events, segments, uplink_cursors
from vigil.timeutil import US, now_us

HUB_ACK, HUB_ACK_AT = "hub_ack", "hub_ack_us"  # cursors of what the hub has stored
MAX_MESSAGE = 64 * 1024  # every message a site sends always, snapshots included
OVERLAP_US = 10 * US  # updates are re-read this far back: a writer may commit late
RESEND_S = 60  # camera states and alarms are sent again this often, changed or not
EVENT_FIELDS = (
    "id",
    "camera",
    "type",
    "label",
    "zone",
    "start_us",
    "end_us",
    "score",
    "box_x1",
    "box_y1",
    "box_x2",
    "box_y2",
    "frame_width",
    "frame_height",
    "attributes",
    "updated_us",
)


@dataclass(frozen=True)
class Outgoing:
    subject: str
    msg_id: str  # Nats-Msg-Id: JetStream drops a second message with it inside its window
    data: bytes


@dataclass
class Batch:
    messages: list[Outgoing]
    position: int | None  # the cursor once they are acknowledged; None: nothing to store
    # What was sent, remembered once acknowledged: so a row re-read is not sent twice.
    marks: dict[str, tuple[Any, float]] = field(default_factory=dict)


def encode(site: str, kind: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(
        {"site": site, "kind": kind, "sent_us": now_us(), **body},
        separators=(",", ":"),
        default=str,
    ).encode()
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"a {kind} message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    return data


def small_jpeg(path: Path, limit: int = MAX_MESSAGE - 1024) -> bytes | None:
    """The snapshot made small enough for the bus: narrower and lower quality until it fits."""
    picture = cv2.imread(str(path))
    if picture is None:
        return None
    width = min(640, picture.shape[1])
    for quality in (80, 65, 50, 35):
        scale = width / picture.shape[1]
        scaled = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(jpeg) <= limit:
            return jpeg.tobytes()
        width = max(160, int(width * 0.75))
    return None


class Outbox:
    def __init__(self, engine: Engine, site: str, snapshots: Path, public_key_pem: str) -> None:
        self.engine = engine
        self.site = site
        self.snapshots = snapshots
        self.public_key_pem = public_key_pem
        self._sent: dict[str, tuple[Any, float]] = {}  # camera states and alarms: last sent
        self.sources: dict[str, Callable[[int, int], Batch]] = {
            "audit": self._audit,
            "checkpoint": self._checkpoints,
            "segment": self._segments,
            "event": self._events,
        }

    def subject(self, kind: str, camera: str | None = None) -> str:
        return f"vigil.{self.site}.{kind}" + (f".{camera}" if camera else "")

    # -- cursors ------------------------------------------------------------------------------
    def cursors(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            stored = dict(
                connection.execute(select(uplink_cursors.c.name, uplink_cursors.c.position))
                .tuples()
                .all()
            )
        return {name: int(stored.get(name, 0)) for name in self.sources}

    def acknowledged(self, name: str, batch: Batch) -> None:
        """The stream has acknowledged the batch: remember it, and store the cursor."""
        self._sent.update(batch.marks)
        if batch.position is not None:
            self._advance(name, batch.position)

    def hub_acked(self, seq: int, at_us: int) -> None:
        """The hub has stored the stream up to `seq`: kept for `vigil federation status`."""
        self._advance(HUB_ACK, seq)
        self._advance(HUB_ACK_AT, at_us)

    def _advance(self, name: str, position: int) -> None:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(uplink_cursors).values(name=name, position=position)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"position": position}
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    # -- sources ------------------------------------------------------------------------------
    def _audit(self, after: int, limit: int) -> Batch:
        entries = read_records(self.engine, after_seq=after, limit=limit)
        messages = [
            Outgoing(
                self.subject("audit"),
                f"audit.{entry.seq}",
                encode(self.site, "audit", {"record": entry.as_dict()}),
            )
            for entry in entries
        ]
        return Batch(messages, entries[-1].seq if entries else None)

    def _checkpoints(self, after: int, limit: int) -> Batch:
        found = [c for c in read_checkpoints(self.engine) if c.size > after][:limit]
        messages = [
            Outgoing(
                self.subject("checkpoint"),
                f"checkpoint.{c.size}",
                encode(
                    self.site,
                    "checkpoint",
                    {"checkpoint": c.public(), "public_key": self.public_key_pem},
                ),
            )
            for c in found
        ]
        return Batch(messages, found[-1].size if found else None)

    def _segments(self, after: int, limit: int) -> Batch:
        query = select(segments).where(segments.c.id > after).order_by(segments.c.id).limit(limit)
        with self.engine.connect() as connection:
            rows = [row._mapping for row in connection.execute(query)]
        messages = [
            Outgoing(
                self.subject("segment", row["camera"]),
                f"segment.{row['id']}",
                encode(
                    self.site,
                    "segment",
                    {
                        "segment": {
                            "id": row["id"],
                            "camera": row["camera"],
                            "start_us": row["start_us"],
                            "end_us": row["end_us"],
                            "bytes": row["bytes"],
                            "sha256": row["sha256"],
                            "hold": row["hold"],
                            "chain_seq": row["chain_seq"],
                        }
                    },
                ),
            )
            for row in rows
        ]
        return Batch(messages, rows[-1]["id"] if rows else None)

    def _events(self, after: int, limit: int) -> Batch:
        """Rows updated after the cursor, and those updated in the OVERLAP_US before it that were
        not sent (committed late by a slower writer, or sent before a crash, again)."""
        order = (events.c.updated_us, events.c.id)
        late = (
            select(events)
            .where(events.c.updated_us > after - OVERLAP_US, events.c.updated_us <= after)
            .order_by(*order)
        )
        new = select(events).where(events.c.updated_us > after).order_by(*order).limit(limit)
        with self.engine.connect() as connection:
            rows = [row._mapping for row in connection.execute(late)]
            fresh = [row._mapping for row in connection.execute(new)]
        rows += fresh
        batch = Batch([], fresh[-1]["updated_us"] if fresh else None)
        messages = batch.messages
        for row in rows:
            key = f"event.{row['id']}"
            if self._sent.get(key, (None, 0.0))[0] == row["updated_us"]:
                continue  # re-read inside the overlap, sent already
            batch.marks[key] = (row["updated_us"], 0.0)
            if row["clean_snapshot"] and (snapshot := self._snapshot(row)) is not None:
                messages.append(snapshot)
            ended = row["end_us"] is not None
            messages.append(
                Outgoing(
                    self.subject("event", row["camera"]),
                    # The edge-made UUIDv7; its end is a second message, which must not be dropped
                    # as a duplicate of the start.
                    f"{row['id']}.end" if ended else row["id"],
                    encode(self.site, "event", {"event": {f: row[f] for f in EVENT_FIELDS}}),
                )
            )
        self._forget(after - OVERLAP_US)
        return batch

    def _snapshot(self, row: Any) -> Outgoing | None:
        jpeg = small_jpeg(self.snapshots / row["clean_snapshot"])
        if jpeg is None:
            return None
        digest = hashlib.sha256(jpeg).hexdigest()[:16]
        header = json.dumps(
            {
                "site": self.site,
                "kind": "snapshot",
                "event": row["id"],
                "camera": row["camera"],
                "start_us": row["start_us"],
            }
        ).encode()
        # A JSON line, then the JPEG: no base64 inflation of the one big thing sent always.
        return Outgoing(
            self.subject("snapshot", row["camera"]),
            f"snapshot.{row['id']}.{digest}",
            header + b"\n" + jpeg,
        )

    def _forget(self, before_us: int) -> None:
        stale = [
            k
            for k, (updated, _) in self._sent.items()
            if k.startswith("event.") and updated < before_us
        ]
        for key in stale:
            del self._sent[key]

    # -- states, sent when they change and every RESEND_S ------------------------------------------
    def states(self, monotonic: float) -> Batch:
        """Camera states and the site's alarms that changed, or were last sent long ago."""
        with self.engine.connect() as connection:
            cameras = [row._mapping for row in connection.execute(select(camera_status))]
            active = [dict(row._mapping) for row in connection.execute(select(alarms))]
        batch = Batch([], None)
        for row in cameras:
            state = {
                "camera": row["camera"],
                "state": row["state"],
                "since_us": row["since_us"],
                "updated_us": row["updated_us"],
                "detail": {
                    k: row[k]
                    for k in ("codec", "width", "height", "fps", "bitrate", "error", "analysis_fps")
                },
            }
            key, value = f"camera.{row['camera']}", (row["state"], row["since_us"])
            if self._due(batch, key, value, monotonic):
                batch.messages.append(
                    Outgoing(
                        self.subject("camera", row["camera"]),
                        f"camera.{row['camera']}.{row['updated_us']}",
                        encode(self.site, "camera", {"camera": state}),
                    )
                )
        body = {"alarms": sorted(active, key=lambda a: (a["kind"], a["subject"]))}
        digest = hashlib.sha256(canonical_json(body)).hexdigest()
        if self._due(batch, "alarms", digest, monotonic):
            batch.messages.append(
                Outgoing(
                    self.subject("alarms"), f"alarms.{now_us()}", encode(self.site, "alarms", body)
                )
            )
        return batch

    def _due(self, batch: Batch, key: str, value: Any, monotonic: float) -> bool:
        last = self._sent.get(key)
        if last is not None and last[0] == value and monotonic - last[1] < RESEND_S:
            return False
        batch.marks[key] = (value, monotonic)
        return True
