"""Retention: per-camera age limits and the global free-space floor.

Deletion is crash-safe: rows are first marked deleting (committed), then files
are unlinked and their directories fsynced, then rows removed. Start-up
reconciliation finishes any deletion a crash interrupted. Held segments are
never deleted, not even to make room: the storage alarm is raised instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from vigil.config import VigilConfig
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.layout import Layout, free_and_total, fsync_dir
from vigil.storage.status import StatusStore
from vigil.timeutil import US, now_us

log = logging.getLogger(__name__)

STORAGE_ALARM = "storage"
BATCH = 50
DAY_US = 86_400 * US
DEFAULT_RETENTION_DAYS = 30.0  # for recordings of cameras no longer in the configuration


def _enough(oldest_first: list[Segment], needed: int) -> list[Segment]:
    """The shortest run of the oldest segments that frees the bytes needed: no more is lost."""
    freed = 0
    for count, segment in enumerate(oldest_first, start=1):
        freed += segment.bytes
        if freed >= needed:
            return oldest_first[:count]
    return oldest_first


class Janitor:
    def __init__(
        self,
        config: VigilConfig,
        index: SegmentIndex,
        status: StatusStore,
        free_space: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.config = config
        self.layout = Layout(config.storage.path)
        self.index = index
        self.status = status
        self.free_space = free_space or (lambda: free_and_total(self.layout.root))
        self.alarm_raised = False

    def run_once(self) -> int:
        """One retention pass; returns how many segments it deleted."""
        try:
            deleted = self._expire() + self._make_room()
        except (OSError, SQLAlchemyError) as exc:
            # A full disk can fail the index write too; the next pass tries again.
            log.error("retention pass failed; retrying on the next pass", extra={"error": str(exc)})
            return 0
        return deleted

    def _expire(self) -> int:
        now = now_us()
        deleted = 0
        cameras = set(self.index.cameras()) | set(self.config.cameras)
        for camera in sorted(cameras):
            settings = self.config.cameras.get(camera)
            days = settings.retention_days if settings else DEFAULT_RETENTION_DAYS
            while batch := self.index.expired(camera, now - int(days * 86_400 * US), BATCH):
                self.delete(batch, f"older than {days:g} days")
                deleted += len(batch)
        return deleted

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
        if self.alarm_raised or deleted:
            self.status.clear_alarm(STORAGE_ALARM, "")
            if self.alarm_raised:
                log.info("storage alarm cleared", extra={"free_bytes": free})
            self.alarm_raised = False
        return deleted

    def _raise_alarm(self, free: int, floor: int) -> None:
        message = (
            f"free space {free} bytes is below storage.min_free ({floor} bytes) and every "
            "remaining segment is held; release holds, add disk or lower retention"
        )
        if not self.alarm_raised:
            log.error("storage alarm", extra={"free_bytes": free, "floor_bytes": floor})
        self.status.raise_alarm(STORAGE_ALARM, "", message)
        self.alarm_raised = True

    def delete(self, batch: list[Segment], reason: str) -> None:
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
        self.index.remove([s.id for s in batch])

    def _remove_if_empty_past_day(self, folder: Path) -> None:
        # A day a camera may still write into (today, or yesterday around midnight) stays.
        if Layout.day_start_us(folder.name) >= now_us() - 2 * DAY_US:
            return
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            return
        fsync_dir(folder.parent)
