"""Making disk and index agree, before any camera records.

- a row claimed by retention (state deleting): finish deleting file and row;
- a file without a row: cut back to its last complete packet and index it if it
  decodes, else move it to quarantine/ (never silently deleted: it may be evidence);
- a row without a file: marked missing (and back to ok if the file reappears).
Nothing here stops start-up: each problem is logged and the next one handled.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from vigil.media.probe import probe
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import DAY, SEGMENT_SUFFIX, Layout, fsync_dir, make_dirs_durable
from vigil.timeutil import DAY_US, now_us, to_datetime

log = logging.getLogger(__name__)

TS_PACKET = 188


@dataclass
class ReconcileReport:
    deletions_finished: int = 0
    recovered: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    removed_empty: int = 0
    missing: int = 0
    found_again: int = 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Reconciler:
    def __init__(self, layout: Layout, index: SegmentIndex) -> None:
        self.layout = layout
        self.index = index

    def run(
        self, cameras: list[str] | None = None, recent_days: int | None = None
    ) -> ReconcileReport:
        """Reconcile every camera (or the given ones), over all days (or only the latest)."""
        report = ReconcileReport()
        names = set(cameras) if cameras is not None else self._all_cameras()
        self.finish_deletions(names, report)
        for camera in sorted(names):
            for day in self._days(camera, recent_days):
                self._reconcile_day(camera, day, report)
        if report.recovered or report.quarantined or report.missing or report.deletions_finished:
            log.info(
                "reconciled disk and index",
                extra={
                    "recovered": len(report.recovered),
                    "quarantined": len(report.quarantined),
                    "missing": report.missing,
                    "deletions_finished": report.deletions_finished,
                },
            )
        return report

    def finish_deletions(self, cameras: set[str], report: ReconcileReport) -> None:
        pending = [s for s in self.index.deleting() if s.camera in cameras]
        for segment in pending:
            self.layout.absolute(segment.path).unlink(missing_ok=True)
        for parent in {self.layout.absolute(s.path).parent for s in pending}:
            if parent.exists():
                fsync_dir(parent)
        self.index.remove(
            [s.id for s in pending], "retention: a deletion a stop interrupted, finished at start"
        )
        report.deletions_finished += len(pending)

    def recover(self, relative: str, report: ReconcileReport | None = None) -> None:
        """Index a segment file that has no row, after cutting off an unfinished tail."""
        report = report or ReconcileReport()
        path = self.layout.absolute(relative)
        camera, day, name = relative.split("/")
        start_us = Layout.start_from_name(day, name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 and start_us is not None:
            path.unlink()
            fsync_dir(path.parent)
            report.removed_empty += 1
            return
        found = probe(path, decode=False) if start_us is not None else None
        if found is not None and found.last_packet_pos:
            # The last packet may be cut short by the crash; drop it, keep everything before.
            with open(path, "r+b") as file:
                file.truncate(found.last_packet_pos - found.last_packet_pos % TS_PACKET)
                os.fsync(file.fileno())
            found = probe(path)
        if found is None or start_us is None:
            self._quarantine(relative, report)
            return
        end_us = start_us + max(found.duration_us, 1)
        self.index.add(camera, start_us, end_us, relative, path.stat().st_size, _sha256(path))
        report.recovered.append(relative)
        log.warning(
            "indexed a segment left behind by a crash",
            extra={"camera": camera, "path": relative, "frames": found.frames},
        )

    def _quarantine(self, relative: str, report: ReconcileReport) -> None:
        target = self.layout.quarantine / relative
        make_dirs_durable(target.parent)
        os.replace(self.layout.absolute(relative), target)
        fsync_dir(target.parent)
        fsync_dir(self.layout.absolute(relative).parent)
        report.quarantined.append(relative)
        log.error(
            "a file in the recordings does not decode; moved to quarantine",
            extra={"camera": relative.split("/")[0], "path": str(target)},
        )

    def _all_cameras(self) -> set[str]:
        names = set(self.index.cameras())
        if self.layout.recordings.exists():
            names |= {p.name for p in self.layout.recordings.iterdir() if p.is_dir()}
        return names

    def _days(self, camera: str, recent_days: int | None) -> list[str]:
        days: set[str] = set()
        folder = self.layout.camera_dir(camera)
        if folder.exists():
            days |= {p.name for p in folder.iterdir() if p.is_dir() and DAY.match(p.name)}
        first = self.index.first_start(camera)
        if first is not None:
            moment = first - first % DAY_US
            while moment <= now_us():
                days.add(f"{to_datetime(moment):%Y-%m-%d}")
                moment += DAY_US
        ordered = sorted(days)
        return ordered[-recent_days:] if recent_days else ordered

    def _reconcile_day(self, camera: str, day: str, report: ReconcileReport) -> None:
        folder = self.layout.camera_dir(camera) / day
        files = {p.name for p in folder.iterdir()} if folder.exists() else set()
        day_start = Layout.day_start_us(day)
        rows = self.index.in_day(camera, day_start, day_start + DAY_US)
        missing, found_again = [], []
        for relative, segment in rows.items():
            present = relative.rsplit("/", 1)[1] in files
            if segment.state == "ok" and not present:
                missing.append(segment.id)
            elif segment.state == "missing" and present:
                found_again.append(segment.id)
        for name in sorted(files):
            relative = f"{camera}/{day}/{name}"
            if relative not in rows and name.endswith(SEGMENT_SUFFIX):
                self.recover(relative, report)
            elif not name.endswith(SEGMENT_SUFFIX):
                log.warning(
                    "ignoring a file that is not a segment",
                    extra={"camera": camera, "path": str(folder / name)},
                )
        if missing:
            log.error(
                "indexed segments are missing from disk",
                extra={"camera": camera, "day": day, "count": len(missing)},
            )
        self.index.set_state(missing, "missing")
        self.index.set_state(found_again, "ok")
        report.missing += len(missing)
        report.found_again += len(found_again)
