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
        regions = detection_regions(motion.boxes + self.tracker.predict_boxes(ts_us), *self.size)
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


def _without_duplicates(detections: list[Detection]) -> list[Detection]:
    """Overlapping crops can see one object twice: keep the better of two same-class boxes."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(k.label != detection.label or k.box.iou(detection.box) < 0.5 for k in kept):
            kept.append(detection)
    return kept
