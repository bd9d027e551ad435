"""The one JSON rendering of an event, which every consumer extends; line counts as JSON.

MQTT, `vigil events --json`, the API and `vigil analyze` all give these fields. Times are UTC
ISO 8601 with microseconds and a Z; `box` is [x1, y1, x2, y2] in pixels of the analysed frame
(as Frigate publishes it), null when the event has no box.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from vigil.box import Box
from vigil.events.model import Event
from vigil.timeutil import to_iso


def box_list(box: Box | None, digits: int = 1) -> list[float] | None:
    if box is None:
        return None
    return [round(v, digits) for v in (box.x1, box.y1, box.x2, box.y2)]


def event_json(
    event: Event, times: Callable[[int | None], Any] = to_iso, **extras: Any
) -> dict[str, Any]:
    """`times` renders start and end (`vigil analyze` gives seconds from the clip's start);
    `extras` are the consumer's own fields."""
    return {
        "id": event.id,
        "camera": event.camera,
        "type": event.type,
        "label": event.label,
        "zone": event.zone,
        "start": times(event.start_us),
        "end": times(event.end_us),
        "score": event.score,
        "box": box_list(event.box),
        "attributes": event.attributes,
        **extras,
    }


def counts_json(
    lines: Iterable[str], crossings: Counter[tuple[str, str, str]], start_us: int, end_us: int
) -> list[dict[str, Any]]:
    """One report per line for [start, end): crossings per class and direction, zeros too, so
    a quiet interval is told apart from a silent camera. Aggregates only, never individuals."""
    reports = []
    for line in lines:
        report: dict[str, Any] = {
            "line": line, "start": to_iso(start_us), "end": to_iso(end_us), "in": {}, "out": {}
        }  # fmt: skip
        for (name, label, direction), count in sorted(crossings.items()):
            if name == line:
                report[direction][label] = count
        reports.append(report)
    return reports
