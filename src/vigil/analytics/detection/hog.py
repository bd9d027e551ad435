"""The fallback detector: OpenCV's built-in HOG people detector, which needs no download.

It finds only upright people at least about 128 pixels tall (its window), costs several
times more than YOLOX-Nano and misses small, distant people: a stop-gap until a model is
installed. OpenCV 5 dropped cv2.HOGDescriptor; this needs OpenCV 4.x.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import cv2
import numpy as np

from vigil.analytics.detection.base import DetectionError
from vigil.analytics.types import Detection
from vigil.box import Box

log = logging.getLogger(__name__)

MAX_SIDE = 640  # larger pictures are scaled down first: the cost grows with the area
MIN_HEIGHT = 256  # smaller crops are scaled up so a person filling them fits the window


class HogPeopleDetector:
    name = "hog"

    def __init__(self, hit_threshold: float = 0.0) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise DetectionError(
                f"OpenCV {cv2.__version__} has no HOG people detector (removed in OpenCV 5); "
                "install a model with `vigil models pull yolox-nano` or use OpenCV 4.x"
            )
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.hit_threshold = hit_threshold

    def detect(
        self, images: list[np.ndarray], classes: Collection[str] | None = None
    ) -> list[list[Detection]]:
        if classes is not None and "person" not in classes:
            return [[] for _ in images]
        return [self._people(image) for image in images]

    def _people(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        scale = min(MAX_SIDE / max(h, w), max(1.0, MIN_HEIGHT / h))
        picture = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)))
        rects, weights = self.hog.detectMultiScale(
            picture, hitThreshold=self.hit_threshold, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        found = []
        for (x, y, rw, rh), weight in zip(rects, np.ravel(weights), strict=True):
            # The SVM margin is not a probability; the logistic keeps it in 0..1 and ordered.
            score = float(1 / (1 + np.exp(-weight)))
            box = Box(x / scale, y / scale, min(w, (x + rw) / scale), min(h, (y + rh) / scale))
            found.append(Detection("person", score, box))
        return found
