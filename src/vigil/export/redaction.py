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

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vigil.analytics.detection.base import Detector
from vigil.box import Box
from vigil.errors import VigilError
from vigil.masks import PrivacyMasks
from vigil.timeutil import to_datetime

BLACK_Y, NEUTRAL_UV, WHITE_Y = 16, 128, 235
FACES = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
FACE_SIDE = 640  # px: the longest side of the picture faces are searched in
FACE_MIN = 16  # px in that picture: at 1080p, faces from 48 px
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
    detect_fps: float = 5.0  # detections per second of footage: most of the redaction's cost
    pad: float = 0.15  # of a box's width and height, added on each side
    linger: int = 2  # detections a box stays after it was last seen
    faces: bool = True
    face_every: int = 3  # detections: close-up faces move little between, and the fill lingers
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
            face_s = round(self.every(fps) * self.face_every / fps, 3) if fps else None
            face = {
                "what": "face",
                "detector": "opencv haarcascade_frontalface",
                "detected_every_s": face_s,
                "min_face": "1/40 of the longest side",
            }
            done.append({**fill, **face})
        done.append({"op": "burn-in", "what": "UTC time, site and camera", "at": "top left"})
        done.append(
            {"op": "encode", "codec": "H.264", "crf": self.crf, "resolution": "the source's"}
        )
        return done


class _Writer:
    """Fills, captions and encodes frames in a thread of its own, so that the detector (in
    the caller's thread) and the encoder work on both cores at once."""

    def __init__(
        self,
        container: av.container.OutputContainer,
        size: tuple[int, int],
        settings: RedactionSettings,
        caption: str,
        origin_us: int,
        masks: PrivacyMasks,
    ) -> None:
        self.container = container
        self.masks = masks
        self.size = size
        self.caption = caption
        self.origin_us = origin_us
        self.encoder = _encoder(container, size, settings)
        self.queue: queue.Queue[tuple[list[Box], list[tuple[av.VideoFrame, int]]] | None] = (
            queue.Queue(maxsize=4)
        )
        self.failure: BaseException | None = None
        self.last_ms = -1
        self.thread = threading.Thread(target=self._work, name="redaction-encoder", daemon=True)
        self.thread.start()

    def conform(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame at the derivative's size, in yuv420p: a camera may change resolution."""
        if frame_size(frame) != self.size or frame.format.name != "yuv420p":
            return frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p")
        return frame

    def put(self, boxes: list[Box], frames: list[tuple[av.VideoFrame, int]]) -> None:
        """Frames to cover with `boxes`, in order."""
        if self.failure is not None:
            raise RedactionError(f"the redacted video cannot be encoded: {self.failure}")
        self.queue.put((boxes, frames))

    def close(self) -> None:
        """Encode what is queued and flush the encoder; raise what went wrong in the thread."""
        self.queue.put(None)
        self.thread.join()
        if self.failure is not None:
            raise RedactionError(f"the redacted video cannot be encoded: {self.failure}")

    def _work(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                boxes, frames = item
                for frame, wall_us in frames:
                    self._encode(boxes, frame, wall_us)
            for packet in self.encoder.encode(None):
                self.container.mux(packet)
        except Exception as exc:  # reported to the caller's thread by put() and close()
            self.failure = exc
            while self.queue.get() is not None:  # let the caller finish and close
                pass

    def _encode(self, boxes: list[Box], frame: av.VideoFrame, wall_us: int) -> None:
        planes = frame.to_ndarray()
        self.masks.fill_yuv420p(planes, *self.size)
        _fill(planes, boxes, *self.size)
        _caption(planes, f"{self.caption}  {_clock(wall_us)}", *self.size)
        out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        out.pts = max(self.last_ms + 1, (wall_us - self.origin_us) // 1000)
        out.time_base = TIME_BASE
        self.last_ms = out.pts
        for packet in self.encoder.encode(out):
            self.container.mux(packet)


class Redactor:
    def __init__(self, detector: Detector, settings: RedactionSettings) -> None:
        self.detector = detector
        self.settings = settings
        self.faces = cv2.CascadeClassifier(str(FACES)) if settings.faces else None
        if self.faces is not None and self.faces.empty():
            raise RedactionError(
                f"{FACES}: OpenCV's face detector cannot be loaded; reinstall opencv-python"
            )
        self.detections = 0  # detector calls, for the manifest and the benchmark
        self.recent_faces: list[Box] = []  # from the last face search, until the next

    def run(
        self,
        sources: Sequence[Source],
        output: Path,
        caption: str,
        progress: Callable[[int, int], None],
        masks: PrivacyMasks | None = None,
    ) -> float:
        """Write the derivative of `sources` to `output`; `progress(segments, bytes)` is called
        after each segment (it may raise to stop the work). Returns the source's fps."""
        # The index in front, so a browser plays it before it has all of it.
        options = {"movflags": "+faststart"}
        with av.open(str(output), "w", format="mp4", container_options=options) as container:
            writer: _Writer | None = None
            previous: list[Box] = []
            lingering: list[tuple[Box, int]] = []
            pending: list[tuple[av.VideoFrame, int]] = []  # frames since the last detection
            count, fps, every = 0, 0.0, 1
            try:
                for done, source in enumerate(sources, 1):
                    for frame, wall_us in _frames(source):
                        if writer is None:
                            fps = _fps(source)
                            every = self.settings.every(fps)
                            writer = _Writer(
                                container,
                                frame_size(frame),
                                self.settings,
                                caption,
                                wall_us,
                                masks or PrivacyMasks([]),
                            )
                        frame = writer.conform(frame)
                        pending.append((frame, wall_us))
                        if count % every == 0:
                            found = self._find(frame)
                            writer.put(
                                _cover(previous, found, lingering, self.settings, writer.size),
                                pending,
                            )
                            lingering = _linger(previous, found, lingering, self.settings.linger)
                            previous, pending = found, []
                        count += 1
                    progress(done, source.bytes)
                if writer is None:
                    raise RedactionError("no picture could be decoded from the export's segments")
                writer.put(
                    _cover(previous, previous, lingering, self.settings, writer.size), pending
                )
            finally:
                if writer is not None:
                    writer.close()
        return fps

    def _find(self, frame: av.VideoFrame) -> list[Box]:
        """People and faces in the frame, padded."""
        self.detections += 1
        picture = frame.to_ndarray(format="bgr24")
        found = [d.box for d in self.detector.detect([picture], {"person"})[0]]
        if self.faces is not None and (self.detections - 1) % self.settings.face_every == 0:
            self.recent_faces = self._faces(frame)
        return found + self.recent_faces

    def _faces(self, frame: av.VideoFrame) -> list[Box]:
        """Faces large enough for the person detector to miss the body around them (a
        close-up); smaller faces are within the people found. The search runs on the grey Y
        plane shrunk to FACE_SIDE, which keeps its cost small beside the detector's."""
        grey = frame.to_ndarray()[: frame.height]
        scale = min(1.0, FACE_SIDE / max(frame.width, frame.height))
        small = cv2.resize(grey, (round(frame.width * scale), round(frame.height * scale)))
        faces = self.faces.detectMultiScale(
            small, scaleFactor=1.2, minNeighbors=4, minSize=(FACE_MIN, FACE_MIN)
        )
        return [Box(x / scale, y / scale, (x + w) / scale, (y + h) / scale) for x, y, w, h in faces]


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
