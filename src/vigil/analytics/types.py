"""The values that flow through analysis: boxes, detections, tracks and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal[
    "intrusion",
    "line_crossing",
    "stopped_vehicle",
    "unattended_object",
    "tamper",
    "camera_offline",
]
EventPhase = Literal["new", "update", "end"]


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels of the analysed frame: (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Where an object touches the ground: what zones and lines are judged by."""
        return ((self.x1 + self.x2) / 2, self.y2)

    def iou(self, other: Box) -> float:
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / (self.area + other.area - inter)


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


@dataclass
class Event:
    """Something an operator must see. start/end are UTC microseconds; end is None while open."""

    id: str  # UUIDv7, generated at the edge; also the bus de-duplication key
    camera: str
    type: EventType
    start_us: int
    end_us: int | None = None
    label: str | None = None  # object class, when the event is about an object
    zone: str | None = None  # zone or line name
    score: float | None = None
    box: Box | None = None  # on the best snapshot, in frame pixels
    attributes: dict[str, Any] = field(default_factory=dict)  # e.g. {"direction": "in"}


@dataclass(frozen=True)
class EventUpdate:
    phase: EventPhase
    event: Event
