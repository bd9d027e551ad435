"""Recorded segments remuxed for the browser, by stream copy (never re-encoded).

`fragmented_mp4` joins segments into one MP4 for a plain <video src>; `hls_segment` serves one
segment file for an HLS playlist with its timestamps set to its recording time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error

from vigil.errors import StorageError
from vigil.playback.fmp4 import Chunks, Fmp4Muxer, KeyframeStart, rescale
from vigil.timeutil import US

log = logging.getLogger(__name__)

TS_CLOCK = Fraction(1, 90_000)
TS_WRAP = 1 << 33  # MPEG-TS timestamps are 33 bits of a 90 kHz clock; players expect the wrap


def fragmented_mp4(paths: list[Path], start_offset_s: float = 0.0) -> Iterator[bytes]:
    """The video of consecutive segment files as one fragmented MP4, produced as it is sent.

    Timestamps start at zero and run on across segments, gaps collapsed. `start_offset_s` (into
    the first segment) starts at the keyframe at or before it. A file that cannot be read is
    skipped with a warning naming it (of a damaged one, what was readable is kept).
    """
    muxer = Fmp4Muxer()
    try:
        for number, path in enumerate(paths):
            yield from _remux_file(muxer, path, number, start_offset_s if number == 0 else 0.0)
        tail = muxer.close()
        if tail:
            yield tail
    finally:
        muxer.abandon()


def _remux_file(muxer: Fmp4Muxer, path: Path, number: int, offset_s: float) -> Iterator[bytes]:
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        log.warning("skipping segment %s: it cannot be opened (%s)", path, exc)
        return
    with container:
        if not container.streams.video:
            log.warning("skipping segment %s: it holds no video", path)
            return
        stream = container.streams.video[0]
        first = stream.start_time or 0
        start = KeyframeStart(lambda p: (p.dts - first) * p.time_base > offset_s)
        try:
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue  # the empty packet that ends a demux
                for ready in start.feed(packet):
                    if chunk := muxer.mux(ready, stream, number):
                        yield chunk
        except av.error.FFmpegError as exc:
            log.warning("segment %s is damaged; playing what was readable of it (%s)", path, exc)
        for ready in start.flush():
            if chunk := muxer.mux(ready, stream, number):
                yield chunk


def hls_segment(path: Path, start_us: int) -> Iterator[bytes]:
    """One segment file as MPEG-TS stamped with its recording time (the 90 kHz clock of
    `start_us`, wrapping as MPEG-TS does), so the segments of a playlist continue each other's
    timestamps as HLS requires; the files themselves all start at zero.

    Raises StorageError at once when the file cannot be opened.
    """
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise StorageError(
            f"segment {path} cannot be read ({exc}); it may be damaged or deleted by retention"
        ) from exc
    if not container.streams.video:
        container.close()
        raise StorageError(f"segment {path} holds no video")
    return _restamped(container, start_us, path)


def _restamped(
    container: av.container.InputContainer, start_us: int, name: Path
) -> Iterator[bytes]:
    sink = Chunks()
    stream = container.streams.video[0]
    # Reduced once per file, so the muxer sees a steady clock and only the written fields wrap.
    start = round(start_us * Fraction(1, US) / TS_CLOCK) % TS_WRAP
    first: int | None = None
    with container, av.open(sink, "w", format="mpegts") as output:
        copy = output.add_stream_from_template(stream)
        try:
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue
                source = Fraction(packet.time_base)
                dts = rescale(packet.dts, source, TS_CLOCK)
                pts = dts if packet.pts is None else rescale(packet.pts, source, TS_CLOCK)
                if first is None:
                    first = dts
                packet.stream = copy
                packet.time_base = TS_CLOCK
                packet.dts = start + dts - first
                packet.pts = start + pts - first
                output.mux(packet)
                if pending := sink.take():
                    yield pending
        except av.error.FFmpegError as exc:
            log.warning("segment %s is damaged; serving what was readable of it (%s)", name, exc)
    if tail := sink.take():
        yield tail
