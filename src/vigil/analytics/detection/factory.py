"""Choosing and loading the machine's detector from its settings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.analytics.detection.base import (
    DetectionError,
    Detector,
    open_session,
)
from vigil.analytics.detection.hog import HogPeopleDetector
from vigil.analytics.detection.models import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    find_model,
    models_dirs,
)
from vigil.analytics.detection.settings import DetectorSettings
from vigil.analytics.detection.yolov8 import Yolov8Detector
from vigil.analytics.detection.yolox import YoloxDetector

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

DEFAULT_STORAGE = Path("/var/lib/vigil")


def adapter_of(session: ort.InferenceSession) -> str:
    """yolox for a 1xNx(5+C) output, yolov8 for 1x(4+C)xN: the anchors are the longer axis."""
    shape = session.get_outputs()[0].shape
    if len(shape) == 3 and isinstance(shape[1], int) and isinstance(shape[2], int):
        return "yolox" if shape[1] > shape[2] else "yolov8"
    raise DetectionError(
        f"cannot tell the model's layout from its output shape {shape}; "
        "set detector.adapter to yolox or yolov8"
    )


def resolve_model(settings: DetectorSettings, storage_path: Path) -> tuple[Path | None, str]:
    """The model file to load (None: none found) and how it was named, for messages."""
    dirs = models_dirs(storage_path, settings.models_dir)
    name = settings.model or DEFAULT_MODEL
    if name in KNOWN_MODELS:
        found = find_model(name, dirs)
        wanted = " or ".join(str(d / KNOWN_MODELS[name].file) for d in dirs)
        return found, wanted
    path = Path(name).expanduser()
    return (path if path.is_file() else None), str(path)


def load_detector(settings: DetectorSettings, storage_path: Path = DEFAULT_STORAGE) -> Detector:
    """YOLOX (or the configured ONNX model) when its file is present, else the HOG fallback."""
    if settings.adapter == "hog":
        return HogPeopleDetector()
    path, wanted = resolve_model(settings, storage_path)
    if path is None:
        log.warning(
            "no detection model at %s: using OpenCV's HOG people detector (people only, slow, "
            "misses small people). Install a model with `vigil models pull %s --url URL` "
            "or set detector.model to the path of an ONNX file",
            wanted,
            DEFAULT_MODEL,
            extra={"model": wanted},
        )
        return HogPeopleDetector()
    session = open_session(path, settings.threads)
    adapter = adapter_of(session) if settings.adapter == "auto" else settings.adapter
    detector_class = YoloxDetector if adapter == "yolox" else Yolov8Detector
    detector = detector_class(
        session, score=settings.score, nms_iou=settings.nms_iou, input_size=settings.input_size
    )
    log.info(
        "detector loaded",
        extra={"model": str(path), "adapter": adapter, "threads": settings.threads},
    )
    return detector
