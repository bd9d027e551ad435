"""Line crossing: direction, one event per object and line, and aggregate counts per class.

A line is the directed segment A→B of its two points. An object (judged by the bottom centre
of its box) crosses "in" when it passes from the left of A→B to its right as seen on the
picture, and "out" the other way; for a line drawn left to right, "in" is moving down the
picture. Swap the points to swap the directions.

A side counts only beyond a band around the line (a tenth of the object's height, at least
2 px), and a crossing is a change between the two sides along a path that passes between A
and B: a box jittering on the line never crosses, and an object walking round an end of the
line does not either.

Counts are aggregates per (line, class, direction) and every crossing counts, so the
difference of "in" and "out" is the net flow. An object raises at most one event per line
(its first crossing in a direction the line reports), so loitering on a line cannot flood the
operator. Counts are never tied to an object and never raise an alert.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import tzinfo

from vigil.analytics.rules.events import close, open_event, report
from vigil.analytics.rules.geometry import DirectedLine, Point
from vigil.analytics.types import Track
from vigil.events.model import EventUpdate
from vigil.settings.analytics import Line

BAND_SHARE = 0.1  # of the object's box height
MIN_BAND_PX = 2.0

CountKey = tuple[str, str, str]  # (line, class, direction)


@dataclass
class _Side:
    side: int  # -1 left, +1 right
    point: Point  # where it last was on that side
    reported: bool = False


class LineWatch:
    def __init__(
        self, camera: str, name: str, line: DirectedLine, rule: Line, tz: tzinfo | None
    ) -> None:
        self.camera = camera
        self.name = name
        self.line = line
        self.rule = rule
        self.tz = tz
        self._sides: dict[int, _Side] = {}
        self._crossings: deque[tuple[int, CountKey]] = deque()

    def update(self, ts_us: int, tracks: list[Track]) -> list[EventUpdate]:
        counted = [t for t in tracks if t.label in self.rule.count]
        present = {t.id for t in counted}
        for track_id in [i for i in self._sides if i not in present]:
            del self._sides[track_id]
        updates = []
        for track in counted:
            if track.last_us == ts_us:
                updates += self._follow(ts_us, track)
        return updates

    def counts(self) -> Counter[CountKey]:
        """Crossings since the last drain, per (line, class, direction)."""
        return Counter(key for _, key in self._crossings)

    def drain_counts(self, interval_end_us: int) -> Counter[CountKey]:
        """Crossings before interval_end_us, which are then forgotten."""
        drained: Counter[CountKey] = Counter()
        while self._crossings and self._crossings[0][0] < interval_end_us:
            drained[self._crossings.popleft()[1]] += 1
        return drained

    def _follow(self, ts_us: int, track: Track) -> list[EventUpdate]:
        point = track.box.bottom_centre
        distance = self.line.signed_distance(point)
        band = max(MIN_BAND_PX, BAND_SHARE * track.box.height)
        if abs(distance) <= band:
            return []
        side = 1 if distance > 0 else -1
        known = self._sides.get(track.id)
        if known is None:
            self._sides[track.id] = _Side(side, point)
            return []
        crossed = known.side != side and self.line.crossed_between(known.point, point)
        known.side, known.point = side, point
        if not crossed:
            return []
        direction = "in" if side > 0 else "out"
        self._crossings.append((ts_us, (self.name, track.label, direction)))
        if known.reported or not self._reports(direction, ts_us):
            return []
        known.reported = True
        event = open_event(
            self.camera, "line_crossing", ts_us, label=track.label, zone=self.name,
            score=track.score, box=track.box, direction=direction,
        )  # fmt: skip
        return [report("new", event), close(event, ts_us)]

    def _reports(self, direction: str, ts_us: int) -> bool:
        if self.rule.events not in ("both", direction):
            return False
        return self.rule.schedule is None or self.rule.schedule.active(ts_us, self.tz)
