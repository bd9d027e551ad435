"""The YOLOX adapter (Megvii's ONNX export, e.g. yolox_nano.onnx).

Input: 1x3xHxW float32, BGR, 0-255, letterboxed into the top-left corner, padded with 114.
Output: 1xNx(5+C) over the anchor points of strides 8, 16 and 32: raw cx, cy, w, h, then
objectness and class scores (sigmoid already applied).
"""

from __future__ import annotations

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

STRIDES = (8, 16, 32)


def anchor_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output row: its grid cell (x, y) and its stride, in the export's row order."""
    cells, strides = [], []
    for stride in STRIDES:
        ys, xs = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
        cells.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        strides.append(np.full(cells[-1].shape[0], stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


class YoloxDetector(OnnxDetector):
    name = "yolox"

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: Sequence[str] = COCO_CLASSES,
        score: float = 0.3,
        nms_iou: float = 0.45,
        input_size: int = 416,
    ) -> None:
        super().__init__(session, labels, score, nms_iou, input_size)
        self.cells, self.strides = anchor_grid(self.width, self.height)

    def prepare(self, image: np.ndarray) -> Prepared:
        canvas, scale, pad = letterbox(image, self.width, self.height, centre=False)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        return Prepared(blob, scale, pad, (image.shape[1], image.shape[0]))

    def decode(
        self, output: np.ndarray, prepared: Prepared, classes: Collection[str] | None = None
    ) -> list[Detection]:
        # A class score is at most 1, so objectness alone rules out most rows cheaply.
        rows = np.flatnonzero(output[:, 4] >= self.score)
        pred = output[rows]
        class_ids, class_scores = best_class(pred[:, 5:], self.class_ids(classes))
        scores = pred[:, 4] * class_scores
        good = scores >= self.score
        pred, rows, class_ids, scores = pred[good], rows[good], class_ids[good], scores[good]
        stride = self.strides[rows][:, None]
        centre = (pred[:, :2] + self.cells[rows]) * stride
        half = np.exp(pred[:, 2:4]) * stride / 2
        boxes = np.concatenate((centre - half, centre + half), axis=1)
        return to_detections(boxes, scores, class_ids, prepared, self.labels, self.nms_iou)
