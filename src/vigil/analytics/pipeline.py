"""One camera's analysis of one picture: motion → detection where needed → tracker → rules.

The same pipeline serves live cameras and `vigil analyze` on a file, so an investigator's
results match what the camera would have raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from vigil.analytics.detection.base import DetectionError, Detector
from vigil.analytics.motion import MotionDetector
from vigil.analytics.regions import detection_regions
from vigil.analytics.rules import RuleEngine
from vigil.analytics.settings import CameraAnalytics
from vigil.analytics.static_objects import StaticObjectDetector
from vigil.analytics.tamper import TamperDetector
from vigil.analytics.tracker import Tracker
from vigil.analytics.types import Box, Detection, EventUpdate

log = logging.getLogger(__name__)

# Objects the rules need whatever the camera lists: people (who is near a bag) and bags.
ALWAYS = ("person",)
# Motion mostly inside a tracked object's expected box is that object moving, which the
# tracker follows; such objects are detected again at most this often (about 2.5 per second).
EXPLAINED = 0.7
RECHECK_US = 400_000


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
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.detector = detector
        self.width = width
        self.height = height
        self.motion = MotionDetector(width, height)
        self.tamper = TamperDetector(camera) if settings.tamper else None
        unattended = settings.unattended_object
        self.static = (
            StaticObjectDetector(width, height, unattended.seconds) if unattended else None
        )
        self.tracker = Tracker(settings.analysis.fps, min_score=settings.analysis.min_score)
        self.rules = RuleEngine(camera, settings, width, height)
        self.classes = sorted(set(settings.analysis.objects) | set(ALWAYS))
        self.stats = PipelineStats()
        self._last_detection_us = 0

    def process(self, ts_us: int, picture: np.ndarray) -> list[EventUpdate]:
        """Analyse one BGR picture of width x height taken at ts_us (UTC microseconds)."""
        self.stats.frames += 1
        updates: list[EventUpdate] = []
        if self.tamper is not None:
            updates += self.tamper.update(ts_us, picture)
        static = self.static.update(ts_us, picture) if self.static is not None else []
        motion = self.motion.update(picture)
        if motion.boxes:
            self.stats.motion_frames += 1
        expected = self.tracker.predict_boxes(ts_us)
        regions = []
        if self._detection_due(ts_us, motion.boxes, expected):
            regions = detection_regions(motion.boxes + expected, *self.size)
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
        return updates + self.rules.update(ts_us, tracks, static)

    def _detection_due(self, ts_us: int, motion: list[Box], expected: list[Box]) -> bool:
        """Detect when something moves where no tracked object explains it; objects already
        tracked are carried by the tracker between checks, re-detected every RECHECK_US."""
        if not motion and not expected:
            return False
        unexplained = any(
            all(_inside(box, place) < EXPLAINED for place in expected) for box in motion
        )
        if unexplained or ts_us - self._last_detection_us >= RECHECK_US:
            self._last_detection_us = ts_us
            return True
        return False

    def close(self, ts_us: int) -> list[EventUpdate]:
        """End every open event: the analysis stops (end of a file, shutdown)."""
        updates = self.rules.close(ts_us)
        if self.tamper is not None:
            updates += self.tamper.close(ts_us)
        return updates

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def _detect(self, picture: np.ndarray, regions: list[Box]) -> list[Detection]:
        crops = [picture[int(r.y1) : int(r.y2), int(r.x1) : int(r.x2)] for r in regions]
        self.stats.detector_calls += 1
        found = self.detector.detect(crops, self.classes)
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
