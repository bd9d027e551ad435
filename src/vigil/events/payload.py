"""An event as JSON, the same on MQTT and in `vigil events --json`; line counts as JSON.

Times are UTC ISO 8601 with microseconds and a Z; `box` is [x1, y1, x2, y2] in pixels of the
analysed frame (as Frigate publishes it), null when the event has no box.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from vigil.analytics.types import Box, Event
from vigil.timeutil import to_iso


def box_list(box: Box | None, digits: int = 1) -> list[float] | None:
    if box is None:
        return None
    return [round(v, digits) for v in (box.x1, box.y1, box.x2, box.y2)]


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "camera": event.camera,
        "type": event.type,
        "label": event.label,
        "zone": event.zone,
        "start": to_iso(event.start_us),
        "end": to_iso(event.end_us),
        "score": event.score,
        "box": box_list(event.box),
        "attributes": event.attributes,
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
