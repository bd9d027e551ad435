"""A camera stream read with PyAV: one network connection per stream.

`file://` URLs play a video file at real-time pace, looping, so a file stands in
for a camera in demos and tests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import unquote, urlsplit

import av
import av.error

from vigil.errors import SourceError, SourceOffline

# Seconds a connection's handshake may take, beyond a stall, before its camera counts as hung.
OPEN_TIMEOUT = 10.0


@dataclass(frozen=True)
class StreamInfo:
    codec: str
    width: int
    height: int
    fps: float | None
    time_base: Fraction


def _classify(camera: str, what: str, exc: Exception) -> SourceError:
    """Garbage or refused credentials are errors to show the operator; anything else is the
    camera being away. SourceError redacts the URLs FFmpeg echoes in `exc`."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return SourceError(
            camera, f"{what}: the camera refused the credentials ({exc}); check the user name "
            "and password in the camera's URL",
        )  # fmt: skip
    if isinstance(exc, av.error.InvalidDataError | av.error.PatchWelcomeError):
        return SourceError(camera, f"{what}: not a video stream we can read ({exc})")
    return SourceOffline(camera, f"{what}: {exc}")


class Source:
    def __init__(self, camera: str, url: str, transport: str, read_timeout: float) -> None:
        self.camera = camera
        self.url = url
        self.transport = transport
        self.read_timeout = read_timeout
        self.container: av.container.InputContainer | None = None
        self.stream: av.VideoStream | None = None

    @property
    def is_file(self) -> bool:
        return urlsplit(self.url).scheme == "file"

    def open(self) -> StreamInfo:
        """Connect; raises SourceError with the reason (offline, not a video, ...)."""
        target = unquote(urlsplit(self.url).path) if self.is_file else self.url
        options = (
            {}
            if self.is_file
            else {
                "rtsp_transport": self.transport,
                "allowed_media_types": "video",
                "timeout": str(int(self.read_timeout * 1_000_000)),
            }
        )
        # A network stream is timed out by FFmpeg's own socket timeout (`timeout` above).
        # PyAV's timeout would do it again from a Python callback that FFmpeg calls, holding
        # the GIL, on every read: about a sixth of a camera's recording CPU.
        try:
            self.container = av.open(target, options=options)
        except av.error.FFmpegError as exc:
            raise _classify(self.camera, f"cannot open {self.url}", exc) from exc
        if not self.container.streams.video:
            self.close()
            raise SourceError(self.camera, f"{self.url} carries no video stream")
        self.stream = self.container.streams.video[0]
        context = self.stream.codec_context
        rate = self.stream.average_rate or self.stream.guessed_rate
        return StreamInfo(
            codec=context.name,
            width=context.width,
            height=context.height,
            fps=float(rate) if rate else None,
            time_base=self.stream.time_base or Fraction(1, 90000),
        )

    def packets(self) -> Iterator[av.Packet]:
        """Video packets as they arrive; a file is paced to real time and looped."""
        assert self.container is not None and self.stream is not None
        if not self.is_file:
            yield from self._demux()
            return
        time_base = self.stream.time_base
        loop_offset = 0  # in time_base units, so looped timestamps keep rising
        started = time.monotonic()
        first_dts: int | None = None
        while True:
            last_raw: int | None = None
            for packet in self._demux():
                if packet.dts is None:
                    continue
                if first_dts is None:
                    first_dts = packet.dts
                last_raw = packet.dts
                packet.dts += loop_offset
                if packet.pts is not None:
                    packet.pts += loop_offset
                delay = started + float((packet.dts - first_dts) * time_base) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                yield packet
            if last_raw is None or first_dts is None:
                raise SourceError(self.camera, f"{self.url} has no video packets")
            frame = max(1, round(1 / ((self.stream.average_rate or 25) * time_base)))
            loop_offset += last_raw - first_dts + frame
            self.container.seek(0)

    def _demux(self) -> Iterator[av.Packet]:
        assert self.container is not None and self.stream is not None
        try:
            for packet in self.container.demux(self.stream):
                if packet.size:  # the demuxer ends with an empty flush packet
                    yield packet
        except av.error.EOFError:
            return
        except av.error.FFmpegError as exc:
            raise _classify(self.camera, f"stream {self.url} failed", exc) from exc

    def close(self) -> None:
        if self.container is not None:
            # Closing a dead connection can fail; nothing is left to save.
            with contextlib.suppress(av.error.FFmpegError):
                self.container.close()
            self.container = None
