"""The adapter for the common YOLOv8-style export (Ultralytics `format=onnx`).

Input: 1x3xHxW float32, RGB, 0-1, letterboxed with the picture centred (the padding split
evenly, the odd pixel at the bottom/right) and padded with 114, as Ultralytics does.
H and W come from the model; a dynamic size uses the configured input size (a multiple of 32).
Output: 1x(4+C)xN: cx, cy, w, h in input pixels, then C class scores; no objectness.
Class names come from the model's `names` metadata when it has them, else COCO.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from vigil.analytics.detection.base import (
    OnnxDetector,
    Prepared,
    best_class,
    letterbox,
    to_detections,
)
from vigil.analytics.types import Detection
from vigil.coco import COCO_CLASSES

if TYPE_CHECKING:
    import onnxruntime as ort


def model_labels(session: ort.InferenceSession, classes: int) -> tuple[str, ...]:
    """The export's own class names ({0: 'person', ...} in its metadata), else COCO's."""
    names = session.get_modelmeta().custom_metadata_map.get("names")
    if names:
        try:
            parsed = ast.literal_eval(names)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, dict) and len(parsed) == classes:
            return tuple(str(parsed[i]) for i in sorted(parsed))
    if classes == len(COCO_CLASSES):
        return COCO_CLASSES
    return tuple(f"class{i}" for i in range(classes))


class Yolov8Detector(OnnxDetector):
    name = "yolov8"

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: Sequence[str] | None = None,
        score: float = 0.3,
        nms_iou: float = 0.45,
        input_size: int = 640,
    ) -> None:
        channels = session.get_outputs()[0].shape[1]
        if labels is None:
            labels = model_labels(session, channels - 4 if isinstance(channels, int) else 80)
        super().__init__(session, labels, score, nms_iou, input_size)

    def prepare(self, image: np.ndarray) -> Prepared:
        canvas, scale, pad = letterbox(image, self.width, self.height, centre=True)
        blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        return Prepared(blob, scale, pad, (image.shape[1], image.shape[0]))

    def decode(
        self, output: np.ndarray, prepared: Prepared, classes: Collection[str] | None = None
    ) -> list[Detection]:
        ids = self.class_ids(classes)
        return decode_yolov8(output, prepared, self.labels, self.score, self.nms_iou, ids)


def decode_yolov8(
    output: np.ndarray,
    prepared: Prepared,
    labels: Sequence[str],
    score: float,
    nms_iou: float,
    class_ids: np.ndarray | None = None,
) -> list[Detection]:
    """Detections from one picture's (4+C)xN output; class_ids limits the classes considered."""
    best_ids, scores = best_class(output[4:].T, class_ids)
    rows = np.flatnonzero(scores >= score)
    centre, size = output[0:2, rows].T, output[2:4, rows].T
    boxes = np.concatenate((centre - size / 2, centre + size / 2), axis=1)
    return to_detections(boxes, scores[rows], best_ids[rows], prepared, labels, nms_iou)
