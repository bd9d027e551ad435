"""Footage of a masked camera, served with its privacy masks burned in: decoded, filled with
solid black, encoded again as H.264. Unmasked cameras keep the zero-copy remux; a masked one
costs a decode and an encode per viewer (benchmarks/masked.py measures it).

The same three outputs as stream copy: one fragmented MP4 of recorded segments (playback), a
segment as MPEG-TS stamped with its recording time (HLS), and the live picture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error

from vigil.masks import PrivacyMasks
from vigil.playback.fmp4 import MOVFLAGS, Chunks
from vigil.timeutil import US

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90_000)
TS_WRAP = 1 << 33
FRAGMENT_S = 0.2
# Fragments of at most FRAGMENT_S, flushed as made, so the browser gets them at once.
FRAGMENTED = {"movflags": MOVFLAGS, "frag_duration": str(round(FRAGMENT_S * 1_000_000)),
              "flush_packets": "1"}  # fmt: skip
ENCODER = {"preset": "veryfast", "crf": "25", "tune": "zerolatency"}
GOP_S = 1.0  # a keyframe every second: where a player can start


class _Encoder:
    """Masks and encodes frames into an output container writing into `sink`."""

    def __init__(self, sink: Chunks, fmt: str, options: dict[str, str], masks: PrivacyMasks):
        self.sink = sink
        self.masks = masks
        self.output = av.open(sink, "w", format=fmt, container_options=options)
        self.stream: av.VideoStream | None = None
        self.last_pts = -1

    def add(self, frame: av.VideoFrame, pts: int, rate: Fraction | None) -> bytes:
        """Encode one frame at `pts` (90 kHz); the bytes muxed so far."""
        if self.stream is None:
            fps = float(rate) if rate else 15.0
            self.stream = self.output.add_stream("libx264", options={
                **ENCODER, "g": str(max(1, round(fps * GOP_S))), "bf": "0",
            })  # fmt: skip
            self.stream.width, self.stream.height = frame.width, frame.height
            self.stream.pix_fmt = "yuv420p"
            self.stream.time_base = TIME_BASE
            self.stream.codec_context.time_base = TIME_BASE
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (
            self.stream.width, self.stream.height,
        ):  # fmt: skip
            frame = frame.reformat(self.stream.width, self.stream.height, "yuv420p")
        planes = frame.to_ndarray()
        self.masks.fill_yuv420p(planes, frame.width, frame.height)
        out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        out.pts = max(self.last_pts + 1, pts)
        out.time_base = TIME_BASE
        self.last_pts = out.pts
        for packet in self.stream.encode(out):
            self.output.mux(packet)
        return self.sink.take()

    def close(self) -> bytes:
        if self.stream is not None:
            for packet in self.stream.encode(None):
                self.output.mux(packet)
        self.output.close()
        return self.sink.take()


def _frames(
    container: av.container.InputContainer, name: object
) -> Iterator[tuple[av.VideoFrame, Fraction]]:
    """Each decoded picture and its time in seconds from the file's first."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    first: Fraction | None = None
    try:
        for frame in container.decode(stream):
            if frame.pts is None or frame.time_base is None:
                continue
            at = frame.pts * frame.time_base
            first = at if first is None else first
            yield frame, at - first
    except av.error.FFmpegError as exc:
        log.warning("%s is damaged; serving what was readable of it (%s)", name, exc)


def masked_fmp4(
    paths: list[Path], masks: PrivacyMasks, start_offset_s: float = 0.0
) -> Iterator[bytes]:
    """The segments as one fragmented MP4 with the masks burned in, from `start_offset_s`
    into the first; timestamps run on across segments."""
    sink = Chunks()
    encoder = _Encoder(sink, "mp4", FRAGMENTED, masks)
    base = Fraction(0)
    for number, path in enumerate(paths):
        try:
            container = av.open(str(path))
        except (OSError, av.error.FFmpegError) as exc:
            log.warning("skipping segment %s: it cannot be opened (%s)", path, exc)
            continue
        with container:
            if not container.streams.video:
                continue
            rate = container.streams.video[0].average_rate
            last = Fraction(0)
            for frame, at in _frames(container, path):
                last = at
                if number == 0 and at < start_offset_s:
                    continue
                if chunk := encoder.add(frame, round((base + at) / TIME_BASE), rate):
                    yield chunk
            base += last + (1 / Fraction(rate) if rate else Fraction(1, 15))
    if tail := encoder.close():
        yield tail


def masked_hls_segment(path: Path, start_us: int, masks: PrivacyMasks) -> Iterator[bytes]:
    """One segment as MPEG-TS with the masks burned in, stamped with its recording time."""
    sink = Chunks()
    start = round(start_us * Fraction(1, US) / TIME_BASE) % TS_WRAP
    encoder = _Encoder(sink, "mpegts", {}, masks)
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        for frame, at in _frames(container, path):
            if chunk := encoder.add(frame, start + round(at / TIME_BASE), rate):
                yield chunk
    if tail := encoder.close():
        yield tail


def masked_live(
    container: av.container.InputContainer,
    masks: PrivacyMasks,
    caught_up: Callable[[], bool],
) -> Iterator[bytes]:
    """The live picture of an open (followed) container with the masks burned in, from the
    first keyframe once the reader has caught up with the writer."""
    sink = Chunks()
    encoder = _Encoder(sink, "mp4", FRAGMENTED, masks)
    stream = container.streams.video[0]
    rate = stream.average_rate
    step = 1 / Fraction(rate) if rate else Fraction(1, 15)
    begun = False  # from a keyframe once caught up; its picture may come out packets later
    started: Fraction | None = None
    offset, previous = Fraction(0), Fraction(-1)
    try:
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            begun = begun or (packet.is_keyframe and caught_up())
            if not begun:
                continue
            for frame in packet.decode():
                if frame.pts is None or frame.time_base is None:
                    continue
                at = frame.pts * frame.time_base + offset
                if at <= previous:  # the next segment file: its clock starts again at zero
                    offset += previous + step - at
                    at = previous + step
                previous = at
                started = at if started is None else started
                if chunk := encoder.add(frame, round((at - started) / TIME_BASE), rate):
                    yield chunk
    except av.error.FFmpegError as exc:
        log.warning("masked live view ends: the stream cannot be read (%s)", exc)
    if tail := encoder.close():
        yield tail
