"""One continuous fragmented MP4 from the video packets of consecutive segments (stream copy).

Fragmented MP4 with an empty moov needs no seeking back, so it can be produced and sent as it
goes, and Chromium plays it progressively from a plain <video src>. Every segment file restarts
its timestamps at zero, so each segment's packets are moved on to follow the previous segment's
last frame; gaps between segments collapse.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from fractions import Fraction

import av
import av.error

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
ASSUMED_FPS = 25  # for the duration of a last frame when the stream states no rate
_NO_SEGMENT = object()


def rescale(value: int, source: Fraction, target: Fraction) -> int:
    return value if source == target else round(value * source / target)


class Chunks:
    """The muxer's output, collected until it is handed on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: take() hands the bytes on (zipfile calls it)."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class Fmp4Muxer:
    """Muxes packets into one fragmented MP4; each call returns the bytes it produced.

    `fragment_s` also cuts fragments between keyframes, for live view: a fragment reaches the
    browser only when complete, so a long GOP would otherwise delay the picture by a GOP.
    """

    def __init__(self, fragment_s: float | None = None) -> None:
        self._options = {"movflags": MOVFLAGS}
        if fragment_s is not None:
            self._options["frag_duration"] = str(round(fragment_s * 1_000_000))
        self._sink = Chunks()
        self._output: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._time_base = Fraction(1, 90_000)
        self._segment: Hashable = _NO_SEGMENT
        self._shift = 0
        self._last_dts: int | None = None
        self._step = 0

    def mux(self, packet: av.Packet, template: av.VideoStream, segment: Hashable) -> bytes:
        """Mux a packet of `segment` (any key, equal for the packets of one segment file)."""
        if self._output is None:
            self._open(template)
        assert self._stream is not None and packet.dts is not None
        source = Fraction(packet.time_base)
        dts = rescale(packet.dts, source, self._time_base)
        pts = dts if packet.pts is None else rescale(packet.pts, source, self._time_base)
        if segment != self._segment:
            self._segment = segment
            follows = 0 if self._last_dts is None else self._last_dts + self._step
            self._shift = follows - dts
        dts += self._shift
        if self._last_dts is not None:
            if dts <= self._last_dts:
                return b""  # a damaged file's clock went backwards; MP4 cannot hold that
            self._step = dts - self._last_dts
        self._last_dts = dts
        packet.stream = self._stream
        packet.time_base = self._time_base
        packet.dts = dts
        packet.pts = pts + self._shift
        self._output.mux(packet)
        return self._sink.take()

    def _open(self, template: av.VideoStream) -> None:
        self._output = av.open(self._sink, "w", format="mp4", container_options=self._options)
        self._stream = self._output.add_stream_from_template(template)
        self._time_base = Fraction(template.time_base or self._time_base)
        rate = template.average_rate or ASSUMED_FPS
        self._step = max(1, round(1 / (rate * self._time_base)))

    def close(self) -> bytes:
        """End the MP4 (a no-op when nothing was muxed, or once closed); returns its last bytes."""
        output, self._output = self._output, None
        if output is not None:
            output.close()
        return self._sink.take()

    def abandon(self) -> None:
        """Close after the consumer went away or an error: the bytes have nowhere to go."""
        with contextlib.suppress(av.error.FFmpegError):
            self.close()


class KeyframeStart:
    """Holds a stream back until it may start, then starts it at the latest keyframe before.

    A decoder can only begin at a keyframe, so until `due(packet)` is true the packets since
    the latest keyframe are kept and anything older is dropped.
    """

    def __init__(self, due: Callable[[av.Packet], bool]) -> None:
        self._due = due
        self._held: list[av.Packet] = []
        self.started = False

    def feed(self, packet: av.Packet) -> list[av.Packet]:
        """The packets to mux now."""
        if self.started:
            return [packet]
        if packet.is_keyframe:
            if self._held and self._due(packet):
                return self._start([*self._held, packet])
            self._held = [packet]
        elif self._held:
            self._held.append(packet)
        else:
            return []  # nothing decodable has come yet
        return self._start(self._held) if self._due(packet) else []

    def flush(self) -> list[av.Packet]:
        """Start now, at the latest keyframe held (the stream ended before it was due)."""
        return [] if self.started else self._start(self._held)

    def _start(self, packets: list[av.Packet]) -> list[av.Packet]:
        self.started = True
        self._held = []
        return packets
