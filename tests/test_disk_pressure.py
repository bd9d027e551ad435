"""Disk pressure on a small real filesystem (a size-limited tmpfs)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.assets import absent
from support.fixtures import RtspServerFactory
from support.media import h264_clip
from support.vigil import VigilFactory, wait_for
from vigil.audit import read_records
from vigil.audit.chains import verify_footage
from vigil.storage.database import connect
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout, free_and_total

SIZE_MB = 24
MIN_FREE_MB = 6


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        absent("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)], check=True
    )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, size: int) -> None:
    with open(path, "wb") as file:
        chunk = b"\0" * (1 << 20)
        written = 0
        try:
            while written < size:
                written += file.write(chunk[: min(len(chunk), size - written)])
                file.flush()
        except OSError:
            pass  # the disk is full, which is the point


def test_small_disk_oldest_go_first_held_stay_alarm_and_resume(
    rtsp_server: RtspServerFactory, media_cache: Path, vigil_factory: VigilFactory, small_disk: Path
) -> None:
    # A high-bitrate stream so a 24 MB disk fills within seconds.
    clip = h264_clip(
        media_cache, width=1280, height=720, fps=15, gop_seconds=1.0, loop_to_seconds=600
    )
    server = rtsp_server({"cam": clip})
    vigil = vigil_factory(
        {"cam": {"main": server.url("cam")}},
        storage={"path": str(small_disk / "vigil"), "min_free": f"{MIN_FREE_MB}MB"},
    )
    vigil.start()
    layout = Layout(small_disk / "vigil")
    first = vigil.wait_segments("cam", 1)[0]
    filler = small_disk / "other-data"
    fill(filler, free_and_total(small_disk)[0] - (MIN_FREE_MB + 6) * 10**6)

    # Pressure: the oldest segments go, the newest keep coming.
    wait_for("the first segment deleted", lambda: not layout.absolute(first.path).exists(), 60)
    count = len(vigil.segments("cam"))
    newest = vigil.segments("cam")[-1].start_us
    wait_for("newer segments", lambda: vigil.segments("cam")[-1].start_us > newest, 30)
    assert vigil.status()["alarms"] == []

    # Hold everything recorded so far: retention must work around it.
    engine = connect(vigil.config.database_url())
    index = SegmentIndex(engine)
    held = index.find("cam")
    index.set_hold([s.id for s in held], True)
    # Take the rest of the disk: nothing unheld can bring free space back above the floor.
    fill(small_disk / "more-data", free_and_total(small_disk)[0])
    alarm = wait_for("the storage alarm", lambda: vigil.status()["alarms"], 60)
    assert alarm[0]["kind"] == "storage" and "held" in alarm[0]["message"]
    assert all(layout.absolute(s.path).exists() for s in held), "a held segment was deleted"
    assert vigil.process is not None and vigil.process.poll() is None, "a full disk crashed Vigil"

    # Space returns: the alarm clears and recording resumes by itself.
    filler.unlink()
    (small_disk / "more-data").unlink()
    wait_for("the alarm cleared", lambda: vigil.status()["alarms"] == [], 60)
    latest = index.find("cam")[-1].start_us
    wait_for("recording resumed", lambda: index.find("cam")[-1].start_us > latest + 2_000_000, 60)
    vigil.wait_state("cam", "online", timeout=30)
    assert all(layout.absolute(s.path).exists() for s in held)
    assert count > 0
    assert vigil.stop() == 0
    # What went is on record, and the segment chain still verifies across it.
    erased = read_records(engine, action="retention.erase", limit=10_000)
    assert erased and all(r.cameras == ["cam"] for r in erased)
    assert {"free space below storage.min_free"} == {
        rule for r in erased for rule in r.detail["rules"]
    }
    assert sum(r.detail["segments"] for r in erased) >= 1
    report, signed = verify_footage(engine, "cam")
    assert report.ok and report.erased >= 1, report.problems
    assert signed is not None and signed[0] == report.segments + report.erased
    engine.dispose()
