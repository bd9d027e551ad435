"""The values that flow through analysis: detections and tracks."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.box import Box


@dataclass(frozen=True)
class Detection:
    label: str  # a COCO class name such as "person", "car", "backpack"
    score: float
    box: Box


@dataclass
class Track:
    """An object followed within one camera; its id is short-lived and means nothing elsewhere."""

    id: int
    label: str
    box: Box
    score: float
    first_us: int  # when first seen
    last_us: int  # when last matched with a detection
    stationary_since_us: int | None = None  # set while the object has not moved
    hits: int = 1
