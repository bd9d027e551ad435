"""Stopped vehicle: a vehicle standing still inside a zone for the rule's seconds.

The tracker says when an object stopped (`stationary_since_us`); the event starts then and
opens once the vehicle has stood `seconds` with the bottom centre of its box in the zone. It
ends when the vehicle moves again or leaves the zone (it drove off: the stop is forgotten), or
when its track is lost (at the time it was last seen).

One event per stop: a parked car's track may be lost and found again (a bus stands in front
of it, the detector misses it at night). A lost stop is remembered by its box for
REMEMBER_SECONDS after it was last seen; a stationary vehicle found where a remembered stop
is (IoU ≥ 0.5) is the same stop, so it does not raise a second event, and the time it has
stood counts from the stop's first moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.analytics.rules.events import close, open_event, report
from vigil.analytics.rules.geometry import Area
from vigil.analytics.types import Track
from vigil.box import Box
from vigil.events.model import Event, EventUpdate
from vigil.settings.analytics import StoppedVehicleRule

REMEMBER_SECONDS = 600
SAME_PLACE_IOU = 0.5


@dataclass
class _Stop:
    box: Box
    since_us: int
    last_seen_us: int
    track_id: int | None
    event: Event | None = None
    fired: bool = False


class StoppedVehicleWatch:
    def __init__(self, camera: str, zone: str, area: Area, rule: StoppedVehicleRule) -> None:
        self.camera = camera
        self.zone = zone
        self.area = area
        self.seconds_us = int(rule.seconds * 1e6)
        self.objects = rule.objects
        self._stops: list[_Stop] = []

    def update(self, ts_us: int, tracks: list[Track]) -> list[EventUpdate]:
        vehicles = {t.id: t for t in tracks if t.label in self.objects}
        updates = self._forget_gone(ts_us, vehicles)
        for track in vehicles.values():
            since = track.stationary_since_us
            if since is None or not self.area.contains(track.box.bottom_centre):
                continue
            stop = self._stop_of(track)
            if stop is None:
                stop = _Stop(track.box, since, ts_us, track.id)
                self._stops.append(stop)
            stop.track_id, stop.box, stop.last_seen_us = track.id, track.box, track.last_us
            stop.since_us = min(stop.since_us, since)
            if not stop.fired and ts_us - stop.since_us >= self.seconds_us:
                stop.fired = True
                stop.event = open_event(
                    self.camera, "stopped_vehicle", stop.since_us, label=track.label,
                    zone=self.zone, score=track.score, box=track.box,
                )  # fmt: skip
                updates.append(report("new", stop.event))
        return updates

    def close(self, ts_us: int) -> list[EventUpdate]:
        events = [s.event for s in self._stops if s.event is not None]
        self._stops.clear()
        return [close(event, ts_us) for event in events]

    def _forget_gone(self, ts_us: int, vehicles: dict[int, Track]) -> list[EventUpdate]:
        updates = []
        kept = []
        for stop in self._stops:
            track = vehicles.get(stop.track_id) if stop.track_id is not None else None
            if track is not None and (
                track.stationary_since_us is None or not self.area.contains(track.box.bottom_centre)
            ):
                if stop.event is not None:
                    updates.append(close(stop.event, track.last_us))
                continue  # it drove off: the place is free again
            if track is None and stop.track_id is not None:
                stop.track_id = None
                if stop.event is not None:
                    updates.append(close(stop.event, stop.last_seen_us))
                    stop.event = None
            if stop.track_id is not None or ts_us - stop.last_seen_us <= REMEMBER_SECONDS * 1e6:
                kept.append(stop)
        self._stops = kept
        return updates

    def _stop_of(self, track: Track) -> _Stop | None:
        for stop in self._stops:
            if stop.track_id == track.id:
                return stop
        for stop in self._stops:
            if stop.track_id is None and stop.box.iou(track.box) >= SAME_PLACE_IOU:
                return stop
        return None
