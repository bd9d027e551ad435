"""What every detector offers, and the pieces the ONNX adapters share.

A detector takes BGR uint8 pictures (whole frames or crops around motion) and returns, per
picture, the objects it found in that picture's pixel coordinates.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from vigil.analytics.types import Detection
from vigil.box import Box
from vigil.errors import VigilError

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

PAD_VALUE = 114  # the grey both YOLOX and Ultralytics pad letterboxes with


class DetectionError(VigilError):
    """A detector cannot be loaded or cannot answer."""


class Detector(Protocol):
    """Finds objects in BGR uint8 pictures; `classes` limits the answer to those labels."""

    name: str

    def detect(
        self, images: list[np.ndarray], classes: Collection[str] | None = None
    ) -> list[list[Detection]]: ...


@dataclass(frozen=True)
class Prepared:
    """One picture letterboxed into the model's input, and how to map boxes back."""

    blob: np.ndarray  # 1 x 3 x H x W float32
    scale: float  # model pixels per picture pixel
    pad: tuple[float, float]  # left and top padding in model pixels
    size: tuple[int, int]  # the picture's width and height


def letterbox(
    image: np.ndarray, width: int, height: int, centre: bool
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The picture resized with its aspect kept into a width x height canvas of grey 114."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    left, top = ((width - nw) // 2, (height - nh) // 2) if centre else (0, 0)
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, scale, (left, top)


def nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by class-wise non-maximum suppression, best score first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    # Shifting each class into its own region of the plane makes one pass class-wise.
    shifted = boxes + (class_ids.astype(np.float32) * (float(boxes.max()) + 1.0))[:, None]
    x1, y1, x2, y2 = shifted.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = (np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])).clip(0)
        h = (np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])).clip(0)
        inter = w * h
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def open_session(path: Path, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime CPU session tuned for many small requests on a weak machine."""
    import onnxruntime as ort  # here, so camera processes that only talk to the service skip it

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads > 1:
        # Busy-waiting threads steal the core the other half of the work needs (measured slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises its own untyped exceptions for unreadable models
        raise DetectionError(
            f"model {path}: ONNX Runtime cannot load it ({exc}); check it with `vigil models check`"
        ) from exc


class OnnxDetector:
    """An ONNX model behind the Detector protocol, split into prepare / infer / decode.

    The detector service runs prepare and decode on the requesting connection's thread and only
    infer on the one session thread, so pre- and post-processing overlap with inference.
    """

    name = "onnx"

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: Sequence[str],
        score: float = 0.3,
        nms_iou: float = 0.45,
        input_size: int = 640,
    ) -> None:
        self.session = session
        self.labels = tuple(labels)
        self.score = score
        self.nms_iou = nms_iou
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        batch, _, height, width = model_input.shape
        self.height = height if isinstance(height, int) else input_size
        self.width = width if isinstance(width, int) else input_size
        self.dynamic_batch = not isinstance(batch, int)
        self._class_ids: dict[frozenset[str], np.ndarray] = {}

    def class_ids(self, classes: Collection[str] | None) -> np.ndarray | None:
        """Column indices of the wanted classes (None: all), checked against the model's labels."""
        if classes is None:
            return None
        key = frozenset(classes)
        if key not in self._class_ids:
            unknown = sorted(key - set(self.labels))
            if unknown:
                raise DetectionError(
                    f"classes {unknown} are not known to the {self.name} model; "
                    f"use names from its list, e.g. {list(self.labels[:8])}"
                )
            self._class_ids[key] = np.array(
                sorted(self.labels.index(c) for c in key), dtype=np.int64
            )
        return self._class_ids[key]

    def prepare(self, image: np.ndarray) -> Prepared:
        raise NotImplementedError

    def decode(
        self, output: np.ndarray, prepared: Prepared, classes: Collection[str] | None = None
    ) -> list[Detection]:
        raise NotImplementedError

    def infer(self, blobs: list[np.ndarray]) -> list[np.ndarray]:
        """The raw output per blob; stacked into one run when the model has a dynamic batch."""
        if self.dynamic_batch and len(blobs) > 1:
            out = self.session.run(None, {self.input_name: np.concatenate(blobs)})[0]
            return [out[i] for i in range(len(blobs))]
        return [self.session.run(None, {self.input_name: blob})[0][0] for blob in blobs]

    def detect(
        self, images: list[np.ndarray], classes: Collection[str] | None = None
    ) -> list[list[Detection]]:
        prepared = [self.prepare(image) for image in images]
        outputs = self.infer([p.blob for p in prepared])
        return [self.decode(o, p, classes) for o, p in zip(outputs, prepared, strict=True)]


def to_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    prepared: Prepared,
    labels: Sequence[str],
    nms_iou: float,
) -> list[Detection]:
    """NMS over x1,y1,x2,y2 boxes in model pixels, then boxes mapped back to the picture."""
    keep = nms(boxes, scores, class_ids, nms_iou)
    left, top = prepared.pad
    width, height = prepared.size
    found = []
    for i in keep:
        x1, y1, x2, y2 = boxes[i]
        box = Box(
            float(np.clip((x1 - left) / prepared.scale, 0, width)),
            float(np.clip((y1 - top) / prepared.scale, 0, height)),
            float(np.clip((x2 - left) / prepared.scale, 0, width)),
            float(np.clip((y2 - top) / prepared.scale, 0, height)),
        )
        if box.area > 0:
            found.append(Detection(labels[class_ids[i]], float(scores[i]), box))
    return found


def best_class(scores: np.ndarray, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the best class among the wanted ones: (class index, its score)."""
    if ids is not None:
        scores = scores[:, ids]
    column = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), column]
    return (column if ids is None else ids[column]), best
