"""The redacted derivative of an export: every person and face covered with solid fill, the
time and the site and camera burned in, H.264 at the source resolution.

Solid fill, never blur or pixelation, which can be reversed. The detector runs on every
`detect_every`-th frame; the frames between two detections are covered by the boxes of both,
and by the hull of each matched pair, so a person walking between them stays covered. A box
lingers for `linger` more detections after it was last seen, over a missed detection. Frames
are filled in the decoder's own YUV planes, so only the frames the detector sees are
converted to BGR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vigil.analytics.detection.base import Detector
from vigil.box import Box
from vigil.errors import VigilError
from vigil.timeutil import to_datetime

BLACK_Y, NEUTRAL_UV, WHITE_Y = 16, 128, 235
FACES = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
TIME_BASE = Fraction(1, 1000)  # the derivative's timestamps, in ms from its first frame


class RedactionError(VigilError):
    """A segment cannot be redacted (it does not decode, say)."""


@dataclass(frozen=True)
class Source:
    """One original segment: its file and when it starts (UTC µs)."""

    path: Path
    start_us: int
    bytes: int


@dataclass(frozen=True)
class RedactionSettings:
    detect_fps: float = 8.0  # detections per second of footage: most of the redaction's cost
    pad: float = 0.15  # of a box's width and height, added on each side
    linger: int = 2  # detections a box stays after it was last seen
    faces: bool = True
    crf: int = 23
    preset: str = "veryfast"

    def every(self, fps: float) -> int:
        """Frames from one detection to the next."""
        return max(1, round(fps / self.detect_fps)) if fps else 1

    def operations(self, detector: str, fps: float) -> list[dict[str, Any]]:
        """The manifest's account of what was done to the picture."""
        every_s = round(self.every(fps) / fps, 3) if fps else None
        fill = {
            "op": "fill",
            "fill": "solid black",
            "padding": self.pad,
            "detected_every_s": every_s,
            "lingers_detections": self.linger,
        }
        done: list[dict[str, Any]] = [{**fill, "what": "person", "detector": detector}]
        if self.faces:
            done.append({**fill, "what": "face", "detector": "opencv haarcascade_frontalface"})
        done.append({"op": "burn-in", "what": "UTC time, site and camera", "at": "top left"})
        done.append(
            {"op": "encode", "codec": "H.264", "crf": self.crf, "resolution": "the source's"}
        )
        return done


@dataclass
class _Pending:
    frames: list[tuple[av.VideoFrame, int]] = field(default_factory=list)  # (frame, wall µs)


class Redactor:
    def __init__(self, detector: Detector, settings: RedactionSettings) -> None:
        self.detector = detector
        self.settings = settings
        self.faces = cv2.CascadeClassifier(str(FACES)) if settings.faces else None
        self.detections = 0  # detector calls, for the manifest and the benchmark

    def run(
        self,
        sources: Sequence[Source],
        output: Path,
        caption: str,
        progress: Callable[[int, int], None],
    ) -> float:
        """Write the derivative of `sources` to `output`; `progress(segments, bytes)` is called
        after each segment (it may raise to stop the work). Returns the source's fps."""
        # The index in front, so a browser plays it before it has all of it.
        options = {"movflags": "+faststart"}
        with av.open(str(output), "w", format="mp4", options=options) as container:
            encoder: av.VideoStream | None = None
            size: tuple[int, int] | None = None
            previous: list[Box] = []
            lingering: list[tuple[Box, int]] = []
            pending = _Pending()
            count = 0
            origin_us: int | None = None
            last_ms = -1
            fps, every = 0.0, 1

            def emit(boxes: list[Box], frame: av.VideoFrame, wall_us: int) -> None:
                nonlocal last_ms
                assert encoder is not None and origin_us is not None
                planes = frame.to_ndarray()
                _fill(planes, boxes, *frame_size(frame))
                _caption(planes, f"{caption}  {_clock(wall_us)}", *frame_size(frame))
                out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                out.pts = max(last_ms + 1, (wall_us - origin_us) // 1000)
                out.time_base = TIME_BASE
                last_ms = out.pts
                for packet in encoder.encode(out):
                    container.mux(packet)

            for done, source in enumerate(sources, 1):
                for frame, wall_us in _frames(source):
                    if encoder is None:
                        size, fps = frame_size(frame), _fps(source)
                        encoder = _encoder(container, size, self.settings)
                        every = self.settings.every(fps)
                        origin_us = wall_us
                    assert size is not None
                    if frame_size(frame) != size or frame.format.name != "yuv420p":
                        frame = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                    if count % every:
                        pending.frames.append((frame, wall_us))
                    else:
                        found = self._find(frame)
                        cover = _cover(previous, found, lingering, self.settings, size)
                        for held, at in pending.frames:
                            emit(cover, held, at)
                        emit(cover, frame, wall_us)
                        lingering = _linger(previous, found, lingering, self.settings.linger)
                        previous, pending = found, _Pending()
                    count += 1
                progress(done, source.bytes)
            if encoder is None:
                raise RedactionError("no picture could be decoded from the export's segments")
            tail = _cover(previous, previous, lingering, self.settings, size or (0, 0))
            for held, at in pending.frames:
                emit(tail, held, at)
            for packet in encoder.encode(None):
                container.mux(packet)
        return fps

    def _find(self, frame: av.VideoFrame) -> list[Box]:
        """People and faces in the frame, padded."""
        self.detections += 1
        picture = frame.to_ndarray(format="bgr24")
        found = [d.box for d in self.detector.detect([picture], {"person"})[0]]
        if self.faces is not None:
            grey = frame.to_ndarray()[: frame.height]  # the Y plane is the grey picture
            small = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2))
            faces = self.faces.detectMultiScale(
                small, scaleFactor=1.15, minNeighbors=4, minSize=(12, 12)
            )
            found += [Box(2 * x, 2 * y, 2 * (x + w), 2 * (y + h)) for x, y, w, h in faces]
        return found


def frame_size(frame: av.VideoFrame) -> tuple[int, int]:
    return frame.width, frame.height


def _frames(source: Source) -> Iterator[tuple[av.VideoFrame, int]]:
    """The segment's pictures with their UTC time (the segment's start plus the frame's offset)."""
    try:
        with av.open(str(source.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            first: Fraction | None = None
            for frame in container.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                at = frame.pts * frame.time_base
                first = at if first is None else first
                yield frame, source.start_us + int((at - first) * 1_000_000)
    except av.FFmpegError as exc:
        raise RedactionError(
            f"{source.path}: cannot decode ({exc}); the package is not made, "
            "check the segment with `vigil audit verify-footage`"
        ) from None


def _fps(source: Source) -> float:
    with av.open(str(source.path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else 0.0


def _encoder(
    container: av.container.OutputContainer, size: tuple[int, int], settings: RedactionSettings
) -> av.VideoStream:
    stream = container.add_stream(
        "libx264", options={"crf": str(settings.crf), "preset": settings.preset}
    )
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = TIME_BASE
    stream.codec_context.time_base = TIME_BASE
    return stream


def _padded(box: Box, pad: float, size: tuple[int, int]) -> Box:
    dx, dy = box.width * pad + 4, box.height * pad + 4
    return Box(
        max(0.0, box.x1 - dx),
        max(0.0, box.y1 - dy),
        min(float(size[0]), box.x2 + dx),
        min(float(size[1]), box.y2 + dy),
    )


def _hull(a: Box, b: Box) -> Box:
    return Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))


def _cover(
    before: list[Box],
    after: list[Box],
    lingering: list[tuple[Box, int]],
    settings: RedactionSettings,
    size: tuple[int, int],
) -> list[Box]:
    """What the frames between two detections must hide: both detections' boxes, the hull of
    each box with its best match in the other, and the boxes still lingering."""
    cover = [*before, *after, *(box for box, _ in lingering)]
    for box in before:
        grown = _padded(box, 1.0, size)  # a match may have moved by up to its own size
        best = max(after, key=grown.iou, default=None)
        if best is not None and grown.iou(best) > 0:
            cover.append(_hull(box, best))
    return [_padded(box, settings.pad, size) for box in cover]


def _linger(
    before: list[Box], after: list[Box], lingering: list[tuple[Box, int]], linger: int
) -> list[tuple[Box, int]]:
    """Boxes seen before and not matched now keep covering their place for `linger` more
    detections."""
    gone = [(box, linger) for box in before if all(box.iou(b) == 0 for b in after)]
    older = [(box, left - 1) for box, left in lingering if left > 1]
    return gone + older if linger else []


def _fill(planes: np.ndarray, boxes: list[Box], width: int, height: int) -> None:
    """Solid black over each box, in all three planes of a yuv420p picture."""
    luma = planes[:height]
    chroma_rows = height // 4
    u = planes[height : height + chroma_rows].reshape(height // 2, width // 2)
    v = planes[height + chroma_rows : height + 2 * chroma_rows].reshape(height // 2, width // 2)
    for box in boxes:
        x1, y1 = int(box.x1) & ~1, int(box.y1) & ~1  # whole chroma samples
        x2, y2 = min(width, int(np.ceil(box.x2)) + 1), min(height, int(np.ceil(box.y2)) + 1)
        luma[y1:y2, x1:x2] = BLACK_Y
        u[y1 // 2 : (y2 + 1) // 2, x1 // 2 : (x2 + 1) // 2] = NEUTRAL_UV
        v[y1 // 2 : (y2 + 1) // 2, x1 // 2 : (x2 + 1) // 2] = NEUTRAL_UV


def _caption(planes: np.ndarray, text: str, width: int, height: int) -> None:
    """The text in white on a black band at the top left."""
    scale = max(0.4, height / 900)
    thickness = max(1, round(height / 540))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    band = Box(0, 0, min(width, w + 12), min(height, h + base + 12))
    _fill(planes, [band], width, height)
    luma = planes[:height]
    cv2.putText(
        luma, text, (6, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE_Y, thickness, cv2.LINE_AA
    )


def _clock(us: int) -> str:
    return to_datetime(us).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
