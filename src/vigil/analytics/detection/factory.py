"""Choosing and loading the machine's detector from its settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass
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
    INSTALLED_MODEL,
    KNOWN_MODELS,
    find_model,
    models_dirs,
)
from vigil.analytics.detection.ssd import SsdMobilenetDetector
from vigil.analytics.detection.yolov8 import Yolov8Detector
from vigil.analytics.detection.yolox import YoloxDetector
from vigil.settings.detector import DetectorSettings

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


@dataclass(frozen=True)
class Choice:
    """The detector a machine uses, and why (`vigil models list` prints it)."""

    name: str  # a known model's name, a model file's name, or "hog"
    path: Path | None
    adapter: str  # auto (judged from an ONNX model's output), yolox, yolov8, ssd or hog
    reason: str
    fallback: bool = False  # not what the settings asked for: worth a warning


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


def choose_model(settings: DetectorSettings, storage_path: Path = DEFAULT_STORAGE) -> Choice:
    """The configured model (YOLOX-Nano by default) when its file is present; else the
    SSD-MobileNet-v2 installed with Vigil; HOG only when neither is there."""
    if settings.adapter == "hog":
        return Choice("hog", None, "hog", "detector.adapter is hog")
    name = settings.model or DEFAULT_MODEL
    path, wanted = resolve_model(settings, storage_path)
    if path is not None:
        known = KNOWN_MODELS.get(name)
        adapter = known.adapter if known and settings.adapter == "auto" else settings.adapter
        how = "detector.model" if settings.model else "the preferred model"
        return Choice(known.name if known else path.name, path, adapter, f"{how}, at {path}")
    missing = f"no {name} at {wanted}"
    installed = find_model(INSTALLED_MODEL, models_dirs(storage_path, settings.models_dir))
    if installed is not None and name != INSTALLED_MODEL:
        return Choice(
            INSTALLED_MODEL, installed, "ssd",
            f"{missing}: using the SSD-MobileNet-v2 installed with Vigil, which is weaker "
            "than YOLOX-Nano (fewer people found, more false boxes, about five times the CPU; "
            f"README, Detectors); `vigil models pull {DEFAULT_MODEL} --url URL` installs that",
            True,
        )  # fmt: skip
    return Choice(
        "hog", None, "hog",
        f"{missing} and no model installed with Vigil: using OpenCV's HOG people detector "
        f"(people only, slow, misses small people). Install a model with `vigil models pull "
        f"{DEFAULT_MODEL} --url URL` or set detector.model to the path of an ONNX file", True,
    )  # fmt: skip


def load_detector(settings: DetectorSettings, storage_path: Path = DEFAULT_STORAGE) -> Detector:
    """The detector `choose_model` picks, loaded."""
    choice = choose_model(settings, storage_path)
    if choice.fallback:
        log.warning(choice.reason, extra={"model": choice.name})
    if choice.adapter == "hog" or choice.path is None:
        return HogPeopleDetector()
    detector: Detector
    if choice.adapter == "ssd":
        detector = SsdMobilenetDetector(
            choice.path.parent, settings.score, settings.nms_iou, settings.threads
        )
        adapter = "ssd"
    else:
        session = open_session(choice.path, settings.threads)
        adapter = adapter_of(session) if choice.adapter == "auto" else choice.adapter
        detector_class = YoloxDetector if adapter == "yolox" else Yolov8Detector
        detector = detector_class(
            session, score=settings.score, nms_iou=settings.nms_iou, input_size=settings.input_size
        )
    log.info(
        "detector loaded",
        extra={
            "model": str(choice.path),
            "adapter": adapter,
            "threads": settings.threads,
            "score": settings.score,
            "nms_iou": settings.nms_iou,
            "input_size": settings.input_size,
        },
    )
    return detector
