"""The event model: what analysis raises, the index keeps, the bus carries and the hub receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vigil.box import Box

EventType = Literal[
    "intrusion",
    "line_crossing",
    "stopped_vehicle",
    "unattended_object",
    "tamper",
    "camera_offline",
]
EventPhase = Literal["new", "update", "end"]


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
