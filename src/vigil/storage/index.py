"""The segment index: one row per recorded segment file."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, delete, exists, func, insert, or_, select, update

from vigil.storage.chain import extend, record_erasures
from vigil.storage.schema import HOLDS_IN_FORCE, camera_totals, events, holds, segments
from vigil.timeutil import now_us


@dataclass(frozen=True)
class Segment:
    id: int
    camera: str
    start_us: int
    end_us: int
    path: str
    bytes: int
    sha256: str
    hold: bool
    state: str
    chain_seq: int | None = None  # place in the camera's hash chain (storage.chain)
    chain: str | None = None


@dataclass(frozen=True)
class CameraTotals:
    segments: int
    bytes: int
    oldest_us: int | None
    newest_us: int | None


def _segment(row) -> Segment:  # type: ignore[no-untyped-def]
    return Segment(**row._mapping)


class SegmentIndex:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, camera: str, start_us: int, end_us: int, path: str, size: int, sha256: str
    ) -> int:
        # A segment still being written when a hold on its time was approved is held too.
        held = exists().where(
            holds.c.state.in_(HOLDS_IN_FORCE),
            holds.c.camera == camera,
            holds.c.since_us < end_us,
            holds.c.until_us > start_us,
        )
        with self.engine.begin() as connection:
            chain_seq, chain = extend(connection, camera, sha256, start_us, end_us)
            result = connection.execute(
                insert(segments).values(
                    camera=camera,
                    start_us=start_us,
                    end_us=end_us,
                    path=path,
                    bytes=size,
                    sha256=sha256,
                    hold=bool(connection.execute(select(held)).scalar()),
                    state="ok",
                    chain_seq=chain_seq,
                    chain=chain,
                )
            )
            _adjust_totals(connection, {camera: (1, size)})
            return int(result.inserted_primary_key[0])

    def last_end(self, camera: str) -> int | None:
        # A camera's segments never overlap, so the latest start holds the latest end; this
        # walks the (camera, start_us) index backwards instead of scanning every row.
        query = (
            select(segments.c.end_us)
            .where(segments.c.camera == camera)
            .order_by(segments.c.start_us.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def find(
        self, camera: str, since_us: int | None = None, until_us: int | None = None
    ) -> list[Segment]:
        """Segments of a camera overlapping [since, until], oldest first."""
        query = select(segments).where(segments.c.camera == camera, segments.c.state != "deleting")
        if since_us is not None:
            query = query.where(segments.c.end_us > since_us)
        if until_us is not None:
            query = query.where(segments.c.start_us < until_us)
        with self.engine.connect() as connection:
            return [_segment(r) for r in connection.execute(query.order_by(segments.c.start_us))]

    def in_day(self, camera: str, day_start_us: int, day_end_us: int) -> dict[str, Segment]:
        query = select(segments).where(
            segments.c.camera == camera,
            segments.c.start_us >= day_start_us,
            segments.c.start_us < day_end_us,
        )
        with self.engine.connect() as connection:
            return {r.path: _segment(r) for r in connection.execute(query)}

    def first_start(self, camera: str) -> int | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.min(segments.c.start_us)).where(segments.c.camera == camera)
            ).scalar()

    def cameras(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(segments.c.camera).distinct()).scalars())

    def set_state(self, ids: list[int], state: str) -> None:
        if ids:
            with self.engine.begin() as connection:
                # Only segments in state ok are counted, so a change to or from ok moves totals.
                changes = _ok_counts(connection, ids, sign=1 if state == "ok" else -1,
                                     counted=state != "ok")  # fmt: skip
                connection.execute(
                    update(segments).where(segments.c.id.in_(ids)).values(state=state)
                )
                _adjust_totals(connection, changes)

    def set_hold(self, ids: list[int], hold: bool) -> None:
        if ids:
            with self.engine.begin() as connection:
                connection.execute(update(segments).where(segments.c.id.in_(ids)).values(hold=hold))

    def held_bytes(self) -> int:
        """The bytes of the stored segments that holds keep from deletion."""
        query = select(func.coalesce(func.sum(segments.c.bytes), 0)).where(
            segments.c.hold.is_(True), segments.c.state == "ok"
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def remove(self, ids: list[int], reason: str) -> None:
        """Drop the rows of deleted segments; each chained one leaves its erasure record."""
        if ids:
            with self.engine.begin() as connection:
                record_erasures(connection, ids, reason, now_us())
                changes = _ok_counts(connection, ids, sign=-1, counted=True)
                connection.execute(delete(segments).where(segments.c.id.in_(ids)))
                _adjust_totals(connection, changes)

    def deleting(self) -> list[Segment]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(segments).where(segments.c.state == "deleting"))
            return [_segment(r) for r in rows]

    def expired(self, camera: str, before_us: int, limit: int) -> list[Segment]:
        query = (
            select(segments)
            .where(
                segments.c.camera == camera,
                # Implied by the end bound, but it bounds the index scan to the expired range.
                segments.c.start_us < before_us,
                segments.c.end_us < before_us,
                segments.c.hold.is_(False),
                segments.c.state != "deleting",
            )
            .order_by(segments.c.start_us)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_segment(r) for r in connection.execute(query)]

    def expired_around_events(
        self,
        camera: str,
        before_us: int,
        event_before_us: int,
        pre_us: int,
        post_us: int,
        limit: int,
    ) -> list[Segment]:
        """Unheld segments that ended before `before_us` and overlap no event window
        [start - pre, end + post] (an open event reaches on), or that ended before
        `event_before_us` whatever they overlap; oldest first."""
        overlaps_event = exists().where(
            events.c.camera == segments.c.camera,
            events.c.start_us < segments.c.end_us + pre_us,
            or_(events.c.end_us.is_(None), events.c.end_us > segments.c.start_us - post_us),
        )
        query = (
            select(segments)
            .where(
                segments.c.camera == camera,
                # Implied by the end bound, but it bounds the index scan to the expired range.
                segments.c.start_us < before_us,
                segments.c.end_us < before_us,
                or_(segments.c.end_us < event_before_us, ~overlaps_event),
                segments.c.hold.is_(False),
                segments.c.state != "deleting",
            )
            .order_by(segments.c.start_us)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_segment(r) for r in connection.execute(query)]

    def oldest_unheld(self, limit: int) -> list[Segment]:
        query = (
            select(segments)
            .where(segments.c.hold.is_(False), segments.c.state != "deleting")
            .order_by(segments.c.start_us)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_segment(r) for r in connection.execute(query)]

    def totals(self) -> dict[str, CameraTotals]:
        """Per camera: segments in state ok, their bytes, the oldest start and newest end."""
        with self.engine.connect() as connection:
            counted = connection.execute(
                select(camera_totals).where(camera_totals.c.segments > 0)
            ).all()
            found = {}
            for camera, count, size in counted:
                ok = and_(segments.c.camera == camera, segments.c.state == "ok")
                # Each walks the (camera, start_us) index from one end: no scan of the camera.
                oldest = connection.execute(
                    select(segments.c.start_us).where(ok).order_by(segments.c.start_us).limit(1)
                ).scalar()
                newest = connection.execute(
                    select(segments.c.end_us)
                    .where(ok)
                    .order_by(segments.c.start_us.desc())
                    .limit(1)
                ).scalar()
                found[camera] = CameraTotals(int(count), int(size), oldest, newest)
            return found


def _ok_counts(
    connection: Connection, ids: list[int], sign: int, counted: bool
) -> dict[str, tuple[int, int]]:
    """Per camera, `sign` times the count and bytes of those of `ids` that are (counted=True)
    or are not (counted=False) in state ok."""
    state_ok = segments.c.state == "ok"
    query = (
        select(segments.c.camera, func.count(), func.coalesce(func.sum(segments.c.bytes), 0))
        .where(segments.c.id.in_(ids), state_ok if counted else ~state_ok)
        .group_by(segments.c.camera)
    )
    return {
        camera: (sign * int(count), sign * int(size))
        for camera, count, size in connection.execute(query)
    }


def _adjust_totals(connection: Connection, changes: dict[str, tuple[int, int]]) -> None:
    for camera, (count, size) in changes.items():
        if count == 0 and size == 0:
            continue
        done = connection.execute(
            update(camera_totals)
            .where(camera_totals.c.camera == camera)
            .values(segments=camera_totals.c.segments + count, bytes=camera_totals.c.bytes + size)
        )
        if done.rowcount == 0:
            connection.execute(
                insert(camera_totals).values(camera=camera, segments=count, bytes=size)
            )
