"""The `detector:` section of the configuration; light to import (no NumPy, no ONNX)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict

AdapterName = Literal["auto", "yolox", "yolov8", "ssd", "hog"]


@dataclass(frozen=True)
class DetectorSettings:
    """How to load the machine's detector (the `detector:` section of the configuration)."""

    # Unknown keys in the YAML are errors, as everywhere else in the configuration.
    __pydantic_config__ = ConfigDict(extra="forbid")

    model: str | None = None  # a file path or a known model name; None: the default model
    adapter: AdapterName = "auto"  # auto: judged from the model's output shape
    threads: int = 1  # ONNX Runtime intra-op threads; one is the most efficient per core
    # Pictures run at once, one per core: the cores cameras leave idle become detections.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    score: float = 0.3  # the operating point: detections below it are dropped
    nms_iou: float = 0.45
    input_size: int = 640  # only for models whose input size is dynamic
    models_dir: Path | None = None  # None: $VIGIL_MODELS_DIR, then <storage.path>/models

    def __post_init__(self) -> None:
        if self.threads < 1 or self.workers < 1:
            raise ValueError("detector.threads and detector.workers must be at least 1")
        if not (0 < self.score < 1 and 0 < self.nms_iou <= 1):
            raise ValueError("detector.score must be in 0..1 and detector.nms_iou in 0..1")
        if self.input_size < 32 or self.input_size % 32:
            raise ValueError("detector.input_size must be a multiple of 32, e.g. 640")
