"""Running the real `vigil run` as a process tree, as an operator would, and watching it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import av
import pytest
import yaml
from sqlalchemy.exc import OperationalError

from support.media import h264_clip
from vigil.config import VigilConfig, load_config
from vigil.storage.database import connect
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.report import status_report
from vigil.timeutil import now_us, parse_iso

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], timeout: float, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Vigil:
    """`python -m vigil run -c FILE` in its own process group, so the whole tree can be killed."""

    def __init__(
        self, directory: Path, cameras: dict[str, dict[str, Any]], **sections: Any
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.storage = directory / "storage"
        document: dict[str, Any] = {
            "storage": {"path": str(self.storage), "min_free": "0%", "janitor_interval": 1},
            "record": {"segment_seconds": 2},
            "ingest": {"stall_timeout": 5, "backoff_max": 2},
            "api": {"enabled": False},  # a test that needs the console turns it on
            "cameras": {
                name: {"purpose": "testing Vigil", **camera} for name, camera in cameras.items()
            },
        }
        for key, value in sections.items():
            document[key] = {**document.get(key, {}), **value}
        self.config_path = directory / "vigil.yaml"
        self.config_path.write_text(yaml.safe_dump(document))
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "vigil.log"
        self.log_path.touch()
        self.runs = 0
        self.started_us = 0

    @property
    def config(self) -> VigilConfig:
        return load_config(self.config_path)

    def start(self) -> None:
        self.runs += 1
        self.started_us = now_us()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vigil", "run", "-c", str(self.config_path)],
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip

    def kill_tree(self) -> None:
        """kill -9 of the supervisor and every camera process at once, like a power cut."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def close(self) -> None:
        if self.process is not None:
            self.kill_tree()

    def logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                entries.append({"msg": line})
        return entries

    def status(self) -> dict[str, Any]:
        config = self.config
        return status_report(config, connect(config.database_url()))

    def camera(self, name: str) -> dict[str, Any]:
        return self.status()["cameras"][name]

    def segments(self, camera: str) -> list[Segment]:
        engine = connect(self.config.database_url())
        try:
            return SegmentIndex(engine).find(camera)
        except OperationalError:
            return []  # Vigil has not created its schema yet
        finally:
            engine.dispose()

    def wait_state(self, camera: str, state: str, timeout: float = 30) -> dict[str, Any]:
        """The camera's state as this run reported it: the status a killed run left behind
        says nothing about the new one (and a SIGTERM before it has started kills it)."""
        return wait_for(f"{camera} {state}", lambda: self._in_state(camera, state), timeout)

    def _in_state(self, camera: str, state: str) -> dict[str, Any] | None:
        try:
            current = self.camera(camera)
        except Exception:
            return None
        fresh = current["since"] is not None and parse_iso(current["since"]) >= self.started_us
        return current if current["state"] == state and fresh else None

    def wait_segments(self, camera: str, count: int, timeout: float = 60) -> list[Segment]:
        def enough() -> list[Segment] | None:
            segments = self.segments(camera)
            return segments if len(segments) >= count else None

        return wait_for(f"{count} segments of {camera}", enough, timeout)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vigil", *args], capture_output=True,
                              text=True, timeout=60)  # fmt: skip


def decode_all(path: Path) -> tuple[int, int]:
    """Decode a file end to end; returns (packets, pictures), equal when every packet decoded."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = frames = 0
        for packet in container.demux(stream):
            if packet.size:
                packets += 1
                frames += len(packet.decode())
        frames += len(stream.codec_context.decode(None))
        return packets, frames


VigilFactory = Callable[..., Vigil]


@pytest.fixture(scope="session")
def camera_clip(media_cache: Path) -> Path:
    """A 640x360 15 fps H.264 camera stream with 1 s GOPs, long enough for any test."""
    return h264_clip(media_cache, width=640, height=360, fps=15, gop_seconds=1.0,
                     loop_to_seconds=900)  # fmt: skip


@pytest.fixture
def vigil_factory(tmp_path: Path) -> Iterator[VigilFactory]:
    made: list[Vigil] = []

    def make(cameras: dict[str, dict[str, Any]], **sections: Any) -> Vigil:
        vigil = Vigil(tmp_path / f"site{len(made)}", cameras, **sections)
        made.append(vigil)
        return vigil

    yield make
    for vigil in made:
        vigil.close()


def readable_by_others(root: Path) -> list[str]:
    """Everything under `root` (itself included) that another user could read or enter, or
    that belongs to someone other than the user running the tests."""
    problems = []
    for path in [root, *root.rglob("*")]:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue  # gone since the listing (SQLite's -shm and -wal come and go)
        if info.st_mode & 0o077 or info.st_uid != os.getuid():
            problems.append(f"{path}: mode {info.st_mode & 0o7777:o}, owner {info.st_uid}")
    return problems


def assert_continuous(segments: list[Segment], tolerance_us: int = 1) -> None:
    """Within one connection, each segment starts exactly where the previous one ended."""
    for before, after in pairwise(segments):
        assert after.start_us >= before.end_us - tolerance_us, "segments overlap"
        assert after.start_us - before.end_us <= tolerance_us, "gap inside one connection"
