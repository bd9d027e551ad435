"""Retention: per-camera age limits and the global free-space floor.

A camera whose `record` settings (vigil.settings.record) keep event footage has event
segments: those overlapping [event start - pre, end + post] (an open event reaches on). They
are kept for max(retention_days, event_retention_days) in continuous mode, and for
event_retention_days (default retention_days) in events mode, where every other segment goes
once it is past a short grace. Events and their snapshots are deleted with their footage.

Deletion is crash-safe: rows are first marked deleting (committed), then files
are unlinked and their directories fsynced, then rows removed. Start-up
reconciliation finishes any deletion a crash interrupted. Held segments are
never deleted, not even to make room: the storage alarm is raised instead.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.settings.record import RecordSettings
from vigil.storage.evidence import HoldStore
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.layout import Layout, free_and_total, fsync_dir
from vigil.storage.status import StatusStore
from vigil.timeutil import DAY_US, US, now_us

log = logging.getLogger(__name__)

STORAGE_ALARM = "storage"
BATCH = 50
EVENTS_BATCH = 500
RESERVE_BYTES = 4 * 1024 * 1024
RESERVE_FRACTION = 0.02
CAMERAS_REFRESH = 3600.0  # seconds; only cameras removed from the configuration need it
DEFAULT_RETENTION_DAYS = 30.0  # for recordings of cameras no longer in the configuration
# How late an event may be stored after its start and still find its pre-roll on disk: an
# events-mode segment outside every event is kept this long beyond pre + post + one segment.
# Rules that backdate their start (tamper's debounce, a dwell time) must stay within it.
EVENT_CLAIM_DELAY_S = 120.0


def _enough(oldest_first: list[Segment], needed: int) -> list[Segment]:
    """The shortest run of the oldest segments that frees the bytes needed: no more is lost."""
    freed = 0
    for count, segment in enumerate(oldest_first, start=1):
        freed += segment.bytes
        if freed >= needed:
            return oldest_first[:count]
    return oldest_first


class Reserve:
    """A small file kept while space is plentiful and deleted when the disk is completely full,
    so the index can still record the storage alarm (a full disk must never hide its alarm)."""

    def __init__(self, path: Path, free_space: Callable[[], tuple[int, int]]) -> None:
        self.path = path
        self.free_space = free_space

    def keep(self) -> None:
        if self.path.exists():
            return
        _free, total = self.free_space()
        with open(self.path, "wb") as file:
            file.write(b"\0" * min(RESERVE_BYTES, int(total * RESERVE_FRACTION)))
            os.fsync(file.fileno())

    def release(self) -> bool:
        if not self.path.exists():
            return False
        self.path.unlink()
        log.warning("storage reserve released to record the storage alarm")
        return True


@dataclass
class Erasure:
    """What one pass erased of one camera's footage, and by which rules."""

    camera: str
    since_us: int
    until_us: int
    segments: int = 0
    bytes: int = 0
    rules: set[str] = field(default_factory=set)

    def add(self, segment: Segment, rule: str) -> None:
        self.since_us = min(self.since_us, segment.start_us)
        self.until_us = max(self.until_us, segment.end_us)
        self.segments += 1
        self.bytes += segment.bytes
        self.rules.add(rule)


class Janitor:
    def __init__(
        self,
        config: VigilConfig,
        index: SegmentIndex,
        status: StatusStore,
        free_space: Callable[[], tuple[int, int]] | None = None,
        record: Mapping[str, RecordSettings] | None = None,
        *,
        expire_events: Callable[[str, int, int], int],
        expire_holds: Callable[[], object] | None = None,
        record_erasures: Callable[[Erasure], object] | None = None,
    ) -> None:
        """`record` overrides each camera's `record` settings (read from its configuration).
        `expire_events(camera, ended_before_us, limit)` deletes the events that end before
        the footage kept, as EventStore.expire does; storage does not reach into events.
        `expire_holds()` ends the holds past their expiry, with their audit records, before
        each pass (HoldStore.expire; storage does not reach into the audit trail).
        `record_erasures(erasure)` is given, after each pass, what it erased of each camera
        (the audit trail's `retention.erase` records: erased on schedule, not missing)."""
        self.config = config
        self.expire_events = expire_events
        self.expire_holds = expire_holds
        self.record_erasures = record_erasures
        self._erased: dict[str, Erasure] = {}
        self.record = dict(record or {})
        self.layout = Layout(config.storage.path)
        self.index = index
        self.status = status
        self.free_space = free_space or (lambda: free_and_total(self.layout.root))
        self.alarm_raised = False
        self.reserve = Reserve(self.layout.reserve, self.free_space)
        self._cameras: set[str] = set()
        self._cameras_refresh = 0.0

    def run_once(self) -> int:
        """One retention pass; returns how many segments it deleted."""
        try:
            if self.expire_holds is not None:
                self.expire_holds()
            deleted = self._expire() + self._make_room()
        except (OSError, SQLAlchemyError) as exc:
            # A full disk can fail the index write too; the next pass tries again.
            log.error("retention pass failed; retrying on the next pass", extra={"error": str(exc)})
            deleted = 0
        self._report_erasures()
        return deleted

    def _report_erasures(self) -> None:
        """Hand over what this pass erased; kept for the next pass if it cannot be taken."""
        while self._erased and self.record_erasures is not None:
            camera, erasure = next(iter(self._erased.items()))
            try:
                self.record_erasures(erasure)
            except VigilError as exc:  # the audit trail cannot be written now
                log.error("cannot record an erasure; retrying on the next pass",
                          extra={"camera": camera, "error": str(exc)})  # fmt: skip
                return
            del self._erased[camera]
        if self.record_erasures is None:
            self._erased.clear()

    def _expire(self) -> int:
        now = now_us()
        deleted = 0
        cameras = self._recorded_cameras() | set(self.config.cameras)
        for camera in sorted(cameras):
            settings = self.config.cameras.get(camera)
            days = settings.retention_days if settings else DEFAULT_RETENTION_DAYS
            record = self.config.record_for(camera)
            if camera in self.record:
                record = self.record[camera].over(record)
            if not record.keeps_event_footage_longer:
                while batch := self.index.expired(camera, now - int(days * DAY_US), BATCH):
                    self.delete(batch, f"older than {days:g} days")
                    deleted += len(batch)
                self._expire_events(camera, now - int(days * DAY_US))
            else:
                deleted += self._expire_around_events(camera, days, record, now)
        return deleted

    def _expire_around_events(
        self, camera: str, days: float, record: RecordSettings, now: int
    ) -> int:
        event_days = record.event_retention_days or days
        if record.mode == "events":
            grace_s = record.pre_seconds + record.post_seconds + EVENT_CLAIM_DELAY_S
            grace_s += record.segment_seconds
            before, reason = now - int(grace_s * US), "outside every event window"
        else:
            event_days = max(days, event_days)
            before, reason = now - int(days * DAY_US), f"older than {days:g} days, no event"
        event_before = now - int(event_days * DAY_US)
        pre, post = int(record.pre_seconds * US), int(record.post_seconds * US)
        deleted = 0
        while batch := self.index.expired_around_events(
            camera, before, event_before, pre, post, BATCH
        ):
            self.delete(batch, f"{reason} (event footage: {event_days:g} days)")
            deleted += len(batch)
        self._expire_events(camera, event_before)
        return deleted

    def _expire_events(self, camera: str, ended_before_us: int) -> None:
        """Events go with their footage; the event store owns them (reviews, snapshots)."""
        while self.expire_events(camera, ended_before_us, EVENTS_BATCH) == EVENTS_BATCH:
            pass

    def _recorded_cameras(self) -> set[str]:
        """Cameras with recordings, refreshed rarely: listing them scans the whole index."""
        if time.monotonic() >= self._cameras_refresh:
            self._cameras = set(self.index.cameras())
            self._cameras_refresh = time.monotonic() + CAMERAS_REFRESH
        return self._cameras

    def _make_room(self) -> int:
        deleted = 0
        free, total = self.free_space()
        floor = self.config.storage.min_free.floor_bytes(total)
        while free < floor:
            candidates = self.index.oldest_unheld(BATCH)
            if not candidates:
                self._raise_alarm(free, floor)
                return deleted
            batch = _enough(candidates, floor - free)
            self.delete(batch, "free space below storage.min_free")
            deleted += len(batch)
            free, total = self.free_space()
        self.reserve.keep()
        if self.alarm_raised or deleted:
            self.status.clear_alarm(STORAGE_ALARM, "")
            if self.alarm_raised:
                log.info("storage alarm cleared", extra={"free_bytes": free})
            self.alarm_raised = False
        return deleted

    def _raise_alarm(self, free: int, floor: int) -> None:
        held_by = HoldStore(self.index.engine).cases_in_force()
        message = (
            f"free space {free} bytes is below storage.min_free ({floor} bytes) and every "
            "remaining segment is held"
            + (f" by the holds of case(s) {', '.join(held_by)}" if held_by else "")
            + "; release holds, add disk or lower retention"
        )
        if not self.alarm_raised:
            log.error("storage alarm", extra={"free_bytes": free, "floor_bytes": floor})
        try:
            self.status.raise_alarm(STORAGE_ALARM, "", message)
        except SQLAlchemyError:
            # The disk is so full that the index cannot take the alarm: spend the reserve.
            if not self.reserve.release():
                raise
            self.status.raise_alarm(STORAGE_ALARM, "", message)
        self.alarm_raised = True

    def delete(self, batch: list[Segment], reason: str) -> None:
        for segment in batch:
            erasure = self._erased.setdefault(
                segment.camera, Erasure(segment.camera, segment.start_us, segment.end_us)
            )
            erasure.add(segment, reason)
        log.info(
            "retention: deleting segments",
            extra={"count": len(batch), "reason": reason, "oldest": batch[0].path},
        )
        self.index.set_state([s.id for s in batch], "deleting")
        parents = set()
        for segment in batch:
            path = self.layout.absolute(segment.path)
            path.unlink(missing_ok=True)
            parents.add(path.parent)
        for parent in parents:
            if parent.exists():
                fsync_dir(parent)
                self._remove_if_empty_past_day(parent)
        self.index.remove([s.id for s in batch], reason)

    def _remove_if_empty_past_day(self, folder: Path) -> None:
        # A day a camera may still write into (today, or yesterday around midnight) stays.
        if Layout.day_start_us(folder.name) >= now_us() - 2 * DAY_US:
            return
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            return
        fsync_dir(folder.parent)
