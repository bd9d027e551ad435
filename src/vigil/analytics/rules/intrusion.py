"""Intrusion: an object of a listed class enters a zone while its schedule is armed.

An object is in the zone when the bottom centre of its box (where it touches the ground) is
inside the polygon for 3 consecutive pictures in which it was seen, and out of it after 3
outside (Frigate's zone inertia), so a box jittering on the border neither enters nor leaves.
The event starts when the object first stepped in, is updated when a better-scored picture
of it comes, and ends when it leaves the zone or is lost (at the last time it was seen in it).
An object already inside when the schedule arms raises its event then; one inside when the
schedule disarms keeps its event until it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from vigil.analytics.rules.events import close, open_event, report
from vigil.analytics.rules.geometry import Area
from vigil.analytics.types import Track
from vigil.events.model import Event, EventUpdate
from vigil.settings.analytics import IntrusionRule

INERTIA = 3  # pictures: Frigate's default
BETTER_SCORE = 0.05  # a picture this much more confident replaces the event's box


@dataclass
class _Presence:
    inside: int = 0  # consecutive pictures inside
    outside: int = 0
    run_started_us: int = 0  # first picture of the current run inside
    in_zone: bool = False  # after inertia
    entered_us: int = 0
    last_inside_us: int = 0
    event: Event | None = None


class IntrusionWatch:
    def __init__(
        self, camera: str, zone: str, area: Area, rule: IntrusionRule, tz: tzinfo | None
    ) -> None:
        self.camera = camera
        self.zone = zone
        self.area = area
        self.rule = rule
        self.tz = tz
        self._presence: dict[int, _Presence] = {}

    def update(self, ts_us: int, tracks: list[Track]) -> list[EventUpdate]:
        updates = []
        watched = {t.id: t for t in tracks if t.label in self.rule.objects}
        for track_id in list(self._presence):
            if track_id not in watched:
                presence = self._presence.pop(track_id)
                if presence.event is not None:
                    updates.append(close(presence.event, presence.last_inside_us))
        for track in watched.values():
            if track.last_us == ts_us:  # only pictures that saw it can move it in or out
                updates += self._judge(ts_us, track)
        return updates

    def close(self, ts_us: int) -> list[EventUpdate]:
        events = [p.event for p in self._presence.values() if p.event is not None]
        self._presence.clear()
        return [close(event, ts_us) for event in events]

    def _judge(self, ts_us: int, track: Track) -> list[EventUpdate]:
        presence = self._presence.setdefault(track.id, _Presence())
        if self.area.contains(track.box.bottom_centre):
            if presence.inside == 0:
                presence.run_started_us = ts_us
            presence.inside += 1
            presence.outside = 0
            presence.last_inside_us = ts_us
        else:
            presence.outside += 1
            presence.inside = 0
        if not presence.in_zone and presence.inside >= INERTIA:
            presence.in_zone, presence.entered_us = True, presence.run_started_us
        elif presence.in_zone and presence.outside >= INERTIA:
            presence.in_zone = False
        event = presence.event
        if event is not None and not presence.in_zone:
            presence.event = None
            return [close(event, presence.last_inside_us)]
        if event is None and presence.in_zone and self._armed(ts_us):
            start = presence.entered_us if self._armed(presence.entered_us) else ts_us
            presence.event = open_event(
                self.camera, "intrusion", start, label=track.label, zone=self.zone,
                score=track.score, box=track.box,
            )  # fmt: skip
            return [report("new", presence.event)]
        better = event is not None and track.score >= (event.score or 0.0) + BETTER_SCORE
        if event is not None and better and presence.outside == 0:
            event.score, event.box, event.label = track.score, track.box, track.label
            return [report("update", event)]
        return []

    def _armed(self, ts_us: int) -> bool:
        return self.rule.schedule is None or self.rule.schedule.active(ts_us, self.tz)
