"""The hub's writes of what sites sent: one transaction per batch from a site's stream, each
row keyed by the site's own identity (event id, audit seq, checkpoint size, segment id), so a
message delivered twice, or replayed after an outage, changes nothing. PostgreSQL only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from vigil.storage.schema import (
    events,
    site_alarms,
    site_audit_records,
    site_cameras,
    site_checkpoints,
    site_segments,
    sites,
)
from vigil.timeutil import now_us

EVENT_UPDATES = (
    "label",
    "zone",
    "end_us",
    "score",
    "box_x1",
    "box_y1",
    "box_x2",
    "box_y2",
    "frame_width",
    "frame_height",
    "attributes",
    "clean_snapshot",
    "updated_us",
)
ERASURE = "retention.erase"  # the site's audit record of footage its retention erased


@dataclass(frozen=True)
class Received:
    """One message from a site's stream, already parsed."""

    kind: str
    body: dict[str, Any]
    sent_us: int
    snapshot: bytes | None = None  # a snapshot message's JPEG


class HubStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ingested = 0

    def ingest(self, site: str, batch: Iterable[Received], refused: int) -> None:
        """Store a batch from `site` in one transaction, with its count of refused messages."""
        with self.engine.begin() as connection:
            last_sent = 0
            for message in batch:
                last_sent = max(last_sent, message.sent_us)
                handler = getattr(self, f"_{message.kind}")
                handler(connection, site, message.body)
            self._site(connection, site, last_sent, refused)

    def _stamp(self) -> int:
        """Strictly increasing insert times, so first arrivals keep their order in a batch."""
        self._ingested = max(now_us(), self._ingested + 1)
        return self._ingested

    def _event(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        row = {**body["event"], "site": site, "ingested_us": self._stamp()}
        row.setdefault("clean_snapshot", None)
        statement = insert(events).values(**row)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["id", "start_us"],
                set_={name: statement.excluded[name] for name in EVENT_UPDATES},
                # A version older than the one kept (a replay) changes nothing.
                where=events.c.updated_us < statement.excluded.updated_us,
            )
        )

    def _snapshot(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        connection.execute(
            update(events)
            .where(events.c.id == body["event"], events.c.start_us == body["start_us"])
            .values(clean_snapshot=body["path"])
        )

    def _audit(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        record = body["record"]
        connection.execute(
            insert(site_audit_records)
            .values(site=site, seq=record["seq"], record=record, ingested_us=now_us())
            .on_conflict_do_nothing()
        )
        if record["action"] == ERASURE and record["cameras"]:
            connection.execute(
                update(site_segments)
                .where(
                    site_segments.c.site == site,
                    site_segments.c.camera.in_(record["cameras"]),
                    site_segments.c.state == "available",
                    site_segments.c.start_us >= record["since_us"],
                    site_segments.c.end_us <= record["until_us"],
                )
                .values(state="gone")
            )

    def _checkpoint(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        checkpoint = body["checkpoint"]
        connection.execute(
            insert(site_checkpoints)
            .values(
                site=site,
                size=checkpoint["size"],
                checkpoint=checkpoint,
                public_key=body["public_key"],
                ingested_us=now_us(),
            )
            .on_conflict_do_nothing()
        )

    def _segment(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        segment = body["segment"]
        connection.execute(
            insert(site_segments)
            .values(
                site=site,
                segment_id=segment["id"],
                camera=segment["camera"],
                start_us=segment["start_us"],
                end_us=segment["end_us"],
                bytes=segment["bytes"],
                sha256=segment["sha256"],
                hold=segment["hold"],
                chain_seq=segment["chain_seq"],
            )
            .on_conflict_do_nothing()
        )

    def _camera(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        state = body["camera"]
        statement = insert(site_cameras).values(site=site, **state)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["site", "camera"],
                set_={
                    n: statement.excluded[n] for n in ("state", "since_us", "updated_us", "detail")
                },
                where=site_cameras.c.updated_us < statement.excluded.updated_us,
            )
        )

    def _alarms(self, connection: Connection, site: str, body: dict[str, Any]) -> None:
        # Each report is the site's whole set of active alarms, sent in the stream's order.
        connection.execute(delete(site_alarms).where(site_alarms.c.site == site))
        for alarm in body["alarms"]:
            connection.execute(insert(site_alarms).values(site=site, **alarm))

    def _site(self, connection: Connection, site: str, last_sent: int, refused: int) -> None:
        now = now_us()
        statement = insert(sites).values(
            name=site,
            first_seen_us=now,
            last_message_us=last_sent,
            last_ingest_us=now,
            refused=refused,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "last_message_us": func.greatest(sites.c.last_message_us, last_sent),
                    "last_ingest_us": now,
                    "refused": sites.c.refused + refused,
                },
            )
        )

    # -- reading --------------------------------------------------------------------------------
    def audit_trail(self, site: str) -> tuple[list[dict[str, Any]], list[tuple[dict, str]]]:
        """The site's audit records in seq order, and its checkpoints with their keys."""
        with self.engine.connect() as connection:
            records = list(
                connection.scalars(
                    select(site_audit_records.c.record)
                    .where(site_audit_records.c.site == site)
                    .order_by(site_audit_records.c.seq)
                )
            )
            checkpoints = [
                (row.checkpoint, row.public_key)
                for row in connection.execute(
                    select(site_checkpoints).where(site_checkpoints.c.site == site)
                )
            ]
        return records, checkpoints

    def segments(self, site: str, camera: str, since_us: int, until_us: int) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    select(site_segments)
                    .where(
                        and_(
                            site_segments.c.site == site,
                            site_segments.c.camera == camera,
                            site_segments.c.end_us > since_us,
                            site_segments.c.start_us < until_us,
                        )
                    )
                    .order_by(site_segments.c.start_us)
                )
            )
