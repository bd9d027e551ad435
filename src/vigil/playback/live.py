"""Live view: the segment file the recorder is writing, followed as it grows, as fragmented MP4.

Reading the recorder's own files keeps the camera at one connection and makes live view cost
a file read. The view can be no fresher than the writer's flushes (it buffers ~256 KB), and
starts at the latest keyframe already on disk, so it opens close to real time.
"""

from __future__ import annotations

import logging
import os
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import av
import av.error

from vigil.errors import VigilError
from vigil.masks import PrivacyMasks
from vigil.playback.fmp4 import Fmp4Muxer, KeyframeStart
from vigil.playback.masked import masked_live
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US, now_us, to_datetime

log = logging.getLogger(__name__)

SILENCE_US = 30 * US  # no new bytes for this long: the camera is not recording
FRAGMENT_S = 0.2  # a fragment reaches the browser only when complete; this bounds the wait
# Open the stream after the first packets instead of the default 5 s of analysis, which on a
# file still being written would be 5 s of waiting.
INPUT_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


class NoFootage(VigilError):
    """The camera has recorded nothing recently, so there is nothing live to show."""


class _SegmentFiles:
    """A camera's segment files by start time, listing a day's directory only when it changed
    (a day of 2 s segments is 43,200 files, too many to list at every poll)."""

    def __init__(self, layout: Layout, camera: str) -> None:
        self.layout = layout
        self.root = layout.camera_dir(camera)
        self._listings: dict[str, tuple[int, list[tuple[int, Path]]]] = {}

    def of_day(self, day: str) -> list[tuple[int, Path]]:
        """(start_us, path) of the day's files, oldest first."""
        directory = self.root / day
        try:
            changed = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self._listings.get(day)
        if cached is not None and cached[0] == changed:
            return cached[1]
        files = []
        for name in os.listdir(directory):
            start = self.layout.start_from_name(day, name)
            if start is not None:
                files.append((start, directory / name))
        files.sort()
        self._listings[day] = (changed, files)
        for stale in sorted(self._listings)[:-2]:  # a stream follows at most two days at once
            del self._listings[stale]
        return files

    def newest(self) -> tuple[int, Path] | None:
        today = to_datetime(now_us())
        for moment in (today, today - timedelta(days=1)):
            files = self.of_day(f"{moment:%Y-%m-%d}")
            if files:
                return files[-1]
        return None

    def after(self, start_us: int) -> tuple[int, Path] | None:
        """The file that follows the one starting at start_us (perhaps in the next day)."""
        moment = to_datetime(start_us)
        for day in (moment, moment + timedelta(days=1)):
            files = self.of_day(f"{day:%Y-%m-%d}")
            at = bisect_right(files, start_us, key=lambda file: file[0])
            if at < len(files):
                return files[at]
        return None


class _FollowedSegments:
    """A file-like reading a camera's segment files end to end while the recorder writes them.

    At the end of the file being written, read() waits for more. The recorder creates the next
    file only after closing this one, so once a next file exists this one is complete: read()
    finishes it and moves on. It returns b"" (the end, to the demuxer) when stop() is true or
    the camera has written nothing for SILENCE_US. No seek(): the demuxer must not look for the
    end of a file that is still growing.
    """

    def __init__(
        self,
        files: _SegmentFiles,
        first: tuple[int, Path],
        stop: Callable[[], bool],
        poll_s: float,
    ) -> None:
        self._files = files
        self._stop = stop
        self._poll_s = poll_s
        self.start_us, self.path = first
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self.offsets = [0]  # where each file begins in the joined stream
        self._read = 0
        self._fresh_at = time.monotonic()
        self.caught_up = False  # has read everything on disk at least once

    def read(self, size: int) -> bytes:
        while not self._stop():
            data = self._file.read(size)
            if data:
                self._read += len(data)
                self._fresh_at = time.monotonic()
                return data
            following = self._files.after(self.start_us)
            if following is not None:
                # The last bytes may have landed after the read above saw none.
                if data := self._file.read(size):
                    self._read += len(data)
                    return data
                self._file.close()
                self.start_us, self.path = following
                self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115
                self.offsets.append(self._read)
                continue
            self.caught_up = True
            if time.monotonic() - self._fresh_at > SILENCE_US / US:
                silent_s = SILENCE_US // US
                log.info("live view ends: nothing written to %s for %d s", self.path, silent_s)
                return b""
            time.sleep(self._poll_s)
        return b""

    def segment_at(self, position: int) -> int:
        """Which file (counting from the first) the byte at `position` of the stream is in."""
        return bisect_right(self.offsets, position) - 1

    def close(self) -> None:
        self._file.close()


def live_fmp4(
    storage_path: Path,
    camera: str,
    index: SegmentIndex,
    stop: Callable[[], bool],
    poll_s: float = 0.2,
    masks: PrivacyMasks | None = None,
) -> Iterator[bytes]:
    """The camera's live picture as one continuous fragmented MP4, until stop() is true; with
    `masks`, re-encoded with them burned in.

    Starts at the latest keyframe of the segment being written. Raises NoFootage at once
    (before the stream is iterated) when the camera has written nothing for 30 s.
    """
    layout = Layout(storage_path)
    files = _SegmentFiles(layout, camera)
    newest = files.newest()
    if newest is None:
        # A file written under a day directory the recorder's clock put elsewhere.
        for segment in reversed(index.find(camera, since_us=now_us() - SILENCE_US)):
            if segment.state == "ok":
                newest = (segment.start_us, layout.absolute(segment.path))
                break
    if newest is None or not _written_since(newest, now_us() - SILENCE_US):
        raise NoFootage(
            f"camera {camera!r} has recorded nothing in the last {SILENCE_US // US} s; "
            "check that it is online and recording (vigil status)"
        )
    return _live(files, newest, stop, poll_s, masks or PrivacyMasks([]))


def _written_since(file: tuple[int, Path], since_us: int) -> bool:
    start_us, path = file
    try:
        written_us = os.stat(path).st_mtime_ns // 1000
    except FileNotFoundError:
        return False
    return max(start_us, written_us) >= since_us


def _live(
    files: _SegmentFiles,
    first: tuple[int, Path],
    stop: Callable[[], bool],
    poll_s: float,
    masks: PrivacyMasks,
) -> Iterator[bytes]:
    reader = _FollowedSegments(files, first, stop, poll_s)
    muxer = Fmp4Muxer(fragment_s=FRAGMENT_S)
    # Start at the newest keyframe on disk, not at the start of the file: closer to real time.
    start = KeyframeStart(lambda _packet: reader.caught_up)
    try:
        try:
            container = av.open(reader, format="mpegts", container_options=INPUT_OPTIONS)
        except av.error.FFmpegError as exc:
            if stop():
                return
            raise NoFootage(f"live view found no readable video in {reader.path} ({exc})") from exc
        with container:
            if not container.streams.video:
                raise NoFootage(f"live view found no video in {reader.path}")
            if masks:
                yield from masked_live(container, masks, lambda: reader.caught_up)
                return
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    if packet.dts is None:
                        continue
                    for ready in start.feed(packet):
                        if chunk := muxer.mux(ready, stream, reader.segment_at(ready.pos)):
                            yield chunk
            except av.error.FFmpegError as exc:
                log.warning("live view ends: %s cannot be read (%s)", reader.path, exc)
        if tail := muxer.close():
            yield tail
    finally:
        muxer.abandon()
        reader.close()
