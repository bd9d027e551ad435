"""One camera's analysis of one picture: motion → detection where needed → tracker → rules.

The same pipeline serves live cameras and `vigil analyze` on a file, so an investigator's
results match what the camera would have raised on a machine with a free detector (a file
never eases off for a slow detector: its result does not depend on the machine's load).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from vigil.analytics.detection.base import DetectionError, Detector
from vigil.analytics.motion import MotionDetector
from vigil.analytics.regions import detection_regions
from vigil.analytics.rules import RuleEngine
from vigil.analytics.rules.unattended import FIXED_SCENE, TRANSPORT
from vigil.analytics.static_objects import StaticObjectDetector
from vigil.analytics.tamper import TamperDetector
from vigil.analytics.tracker import Tracker
from vigil.analytics.types import Detection
from vigil.box import Box
from vigil.coco import BAGS
from vigil.events.model import EventUpdate
from vigil.masks import PrivacyMasks
from vigil.settings.analytics import CameraAnalytics

log = logging.getLogger(__name__)

# Objects the rules need whatever the camera lists: people (who is near a bag) and bags.
ALWAYS = ("person",)
# Motion mostly inside tracked objects' expected boxes is those objects moving, which the
# tracker follows; they are looked at again every RECHECK_US (about 2.5 times a second).
# Motion anywhere else is looked at at once.
EXPLAINED = 0.7
RECHECK_US = 400_000
# The detector is shared by every camera of the machine. When it answers slower than this, it
# is queueing pictures, and each camera asks less: the recheck interval stretches with the
# answer time (up to MAX_SLOWDOWN times), and motion inside a region it has just looked at and
# found nothing in (a shadow, leaves, a class nobody asked for) waits for the next recheck.
# Analysis so degrades evenly across cameras instead of falling behind.
FAST_ANSWER_S = 0.1
MAX_SLOWDOWN = 4.0
LATENCY_WEIGHT = 0.3  # of the newest answer time in the running average
# The unattended rule's closer look at what only the background model saw (rules/unattended).
LOOK_CONTEXT = 3.0
LOOK_MIN_SIDE = 64.0
LOOK_CLASSES = sorted({"person", *TRANSPORT, *BAGS, *FIXED_SCENE})


@dataclass
class PipelineStats:
    frames: int = 0
    detector_calls: int = 0
    motion_frames: int = 0
    detector_failures: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class AnalysisPipeline:
    def __init__(
        self,
        camera: str,
        settings: CameraAnalytics,
        detector: Detector,
        width: int,
        height: int,
        *,
        live: bool = True,
    ) -> None:
        self.camera = camera
        # A live camera shares the detector with the others and eases off when it is slow; a
        # file is analysed at its own pace, so its result never depends on the machine's load.
        self.live = live
        self.settings = settings
        self.detector = detector
        self.width = width
        self.height = height
        self.masks = PrivacyMasks(settings.privacy_masks)
        self.motion = MotionDetector(width, height)
        self.tamper = TamperDetector(camera) if settings.tamper else None
        unattended = settings.unattended_object
        self.static = (
            StaticObjectDetector(width, height, unattended.seconds) if unattended else None
        )
        self.tracker = Tracker(settings.analysis.fps, min_score=settings.analysis.min_score)
        self.rules = RuleEngine(camera, settings, width, height, self._look)
        self.classes = sorted(set(settings.analysis.objects) | set(ALWAYS))
        self.stats = PipelineStats()
        self._last_detection_us = 0
        self._examined: list[Box] = []  # the regions of the last detection
        self._latency_s = 0.0  # running average of the detector's answer time
        self._picture: np.ndarray | None = None  # the picture being analysed

    def process(self, ts_us: int, picture: np.ndarray) -> list[EventUpdate]:
        """Analyse one BGR picture of width x height taken at ts_us (UTC microseconds)."""
        self.stats.frames += 1
        updates: list[EventUpdate] = []
        self.masks.fill_bgr(picture)  # what the masks hide is never analysed
        self._picture = picture
        motion = self.motion.update(picture)
        if self.tamper is not None:
            updates += self.tamper.update(ts_us, picture, motion.mask)
        # A view that changed all at once (lights, an IR switch, an exposure jump, a swing) is
        # learnt again, by the motion model as by the static-object one.
        disturbed = motion.recalibrated or (self.tamper is not None and self.tamper.disturbed)
        static: list[Box] = []
        if self.static is not None:
            if disturbed:
                self.static.reset()  # what differs from the old view is no object in the new
            else:
                static = self.static.update(ts_us, picture)
        if motion.boxes:
            self.stats.motion_frames += 1
        expected = self.tracker.predict_boxes(ts_us)
        regions = []
        if self._detection_due(ts_us, motion.boxes, expected):
            regions = detection_regions(motion.boxes + expected, *self.size)
            self._last_detection_us, self._examined = ts_us, regions
        try:
            detections = self._detect(picture, regions) if regions else []
        except DetectionError as exc:
            # The detector is busy or away: objects wait for the next picture, tamper does not.
            self.stats.detector_failures += 1
            log.debug(
                "no detection for this picture", extra={"camera": self.camera, "error": str(exc)}
            )
            return updates
        tracks = self.tracker.update(ts_us, detections, regions)
        return updates + self.rules.update(ts_us, tracks, static, disturbed)

    def _detection_due(self, ts_us: int, motion: list[Box], expected: list[Box]) -> bool:
        """Detect when something moves where no tracked object explains it (nor, while the
        detector is busy, the last detection), and every recheck while anything moves or is
        tracked."""
        if not motion and not expected:
            return False
        slowdown = min(MAX_SLOWDOWN, max(1.0, self._latency_s / FAST_ANSWER_S))
        if ts_us - self._last_detection_us >= RECHECK_US * slowdown:
            return True
        # Covered by the known places together: people walking close merge into one blob.
        known = expected + (self._examined if slowdown > 1.0 else [])
        return any(
            min(1.0, sum(_inside(box, place) for place in known)) < EXPLAINED for box in motion
        )

    def close(self, ts_us: int) -> list[EventUpdate]:
        """End every open event: the analysis stops (end of a file, shutdown)."""
        updates = self.rules.close(ts_us)
        if self.tamper is not None:
            updates += self.tamper.close(ts_us)
        return updates

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def _look(self, box: Box) -> list[Detection] | None:
        """The detector's closer look around `box` in the current picture, at two scales: a
        square of LOOK_CONTEXT times the box (at least LOOK_MIN_SIDE pixels), which the
        detector scales up so that a small distant thing is seen large, and a square of half
        the picture's height, which holds the whole of a near person of whom the box is only a
        part. None: no answer now."""
        assert self._picture is not None
        sides = (
            max(LOOK_MIN_SIDE, LOOK_CONTEXT * max(box.width, box.height)),
            max(LOOK_MIN_SIDE, self.height / 2),
        )
        cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
        crops = [
            Box(max(0.0, cx - side / 2), max(0.0, cy - side / 2),
                min(float(self.width), cx + side / 2), min(float(self.height), cy + side / 2))
            for side in sides
        ]  # fmt: skip
        try:
            return self._detect(self._picture, crops, LOOK_CLASSES)
        except DetectionError:
            return None

    def _detect(
        self, picture: np.ndarray, regions: list[Box], classes: list[str] | None = None
    ) -> list[Detection]:
        crops = [picture[int(r.y1) : int(r.y2), int(r.x1) : int(r.x2)] for r in regions]
        self.stats.detector_calls += 1
        started = time.monotonic()
        try:
            found = self.detector.detect(crops, classes or self.classes)
        finally:
            if self.live:
                answer_s = time.monotonic() - started
                self._latency_s += LATENCY_WEIGHT * (answer_s - self._latency_s)
        detections = [
            Detection(d.label, d.score, Box(d.box.x1 + r.x1, d.box.y1 + r.y1,
                                            d.box.x2 + r.x1, d.box.y2 + r.y1))
            for r, in_crop in zip(regions, found, strict=True)
            for d in in_crop
        ]  # fmt: skip
        return _without_duplicates(detections)


def _inside(box: Box, place: Box) -> float:
    """The share of box's area that lies inside place."""
    width = min(box.x2, place.x2) - max(box.x1, place.x1)
    height = min(box.y2, place.y2) - max(box.y1, place.y1)
    if width <= 0 or height <= 0 or box.area == 0:
        return 0.0
    return width * height / box.area


def _without_duplicates(detections: list[Detection]) -> list[Detection]:
    """Overlapping crops can see one object twice: keep the better of two same-class boxes."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(k.label != detection.label or k.box.iou(detection.box) < 0.5 for k in kept):
            kept.append(detection)
    return kept
