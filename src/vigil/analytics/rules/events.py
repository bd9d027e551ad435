"""Opening events and handing them out: every update carries its own copy of the event."""

from __future__ import annotations

from dataclasses import replace

from vigil.box import Box
from vigil.events.ids import uuid7
from vigil.events.model import Event, EventPhase, EventType, EventUpdate


def open_event(
    camera: str,
    type: EventType,
    start_us: int,
    *,
    label: str | None = None,
    zone: str | None = None,
    score: float | None = None,
    box: Box | None = None,
    **attributes: object,
) -> Event:
    return Event(
        id=uuid7(max(0, start_us // 1000)), camera=camera, type=type, start_us=start_us,
        label=label, zone=zone, score=score, box=box, attributes=dict(attributes),
    )  # fmt: skip


def report(phase: EventPhase, event: Event) -> EventUpdate:
    """A snapshot: the rule keeps changing its own Event after publishing it."""
    return EventUpdate(phase, replace(event, attributes=dict(event.attributes)))


def close(event: Event, end_us: int) -> EventUpdate:
    event.end_us = max(end_us, event.start_us)
    return report("end", event)
