"""One segment file: MPEG-TS written by stream copy, hashed as it is written.

MPEG-TS stays playable when a crash cuts it short, which fragment-less MP4 does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av

from vigil.storage.layout import fsync_dir, make_dirs_durable

MICROSECONDS = Fraction(1, 1_000_000)
WRITE_BUFFER = 64 * 1024


@dataclass(frozen=True)
class ClosedSegment:
    path: Path
    start_us: int
    end_us: int
    bytes: int
    sha256: str


class _HashingFile:
    """The muxer's output: bytes go to the file and into the digest in one pass."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class SegmentWriter:
    def __init__(self, path: Path, template: av.VideoStream, start_us: int) -> None:
        make_dirs_durable(path.parent)
        self.path = path
        self.start_us = start_us
        self.last_us = start_us
        # Exclusive create: a segment file is never overwritten.
        self._file = open(path, "xb")  # noqa: SIM115 - closed in finish() or abort()
        self._sink = _HashingFile(self._file)
        # Fewer, larger writes cost less per packet (FFmpeg would otherwise flush a
        # non-seekable output after every packet); a crash loses at most this much more, and
        # live view (which reads the file as it grows) lags by about this much.
        self._output = av.open(
            self._sink,
            "w",
            format="mpegts",
            buffer_size=WRITE_BUFFER,
            container_options={"flush_packets": "0"},
        )
        self._stream = self._output.add_stream_from_template(template)

    def write(self, packet: av.Packet, media_us: int) -> None:
        """Mux one packet at its wall-clock time; timestamps restart at zero in each file."""
        composition = 0
        if packet.pts is not None and packet.dts is not None and packet.pts > packet.dts:
            composition = int((packet.pts - packet.dts) * packet.time_base / MICROSECONDS)
        dts = media_us - self.start_us
        packet.stream = self._stream
        packet.time_base = MICROSECONDS
        packet.dts = dts
        packet.pts = dts + composition
        self._output.mux(packet)
        self.last_us = media_us

    def finish(self, end_us: int) -> ClosedSegment:
        """Close, fsync the file and its directory; only then may the index row be written."""
        self._output.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        fsync_dir(self.path.parent)
        return ClosedSegment(
            self.path, self.start_us, end_us, self._sink.size, self._sink.digest.hexdigest()
        )

    def abort(self) -> None:
        """Give up on the file after a write error; start-up reconciliation judges what is in it."""
        for close in (self._output.close, self._file.close):
            # The write already failed and the caller reports it; closing may fail the same way.
            with contextlib.suppress(OSError, av.error.FFmpegError):
                close()
