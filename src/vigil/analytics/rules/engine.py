"""One camera's rules, fed the tracker's confirmed tracks after every analysed picture."""

from __future__ import annotations

import logging
from collections import Counter

from vigil.analytics.rules.geometry import Area, DirectedLine
from vigil.analytics.rules.intrusion import IntrusionWatch
from vigil.analytics.rules.lines import CountKey, LineWatch
from vigil.analytics.rules.stopped import StoppedVehicleWatch
from vigil.analytics.rules.unattended import Look, UnattendedWatch
from vigil.analytics.types import Track
from vigil.box import Box
from vigil.events.model import EventUpdate
from vigil.settings.analytics import CameraAnalytics

log = logging.getLogger(__name__)


class RuleEngine:
    """Intrusion, line crossing, stopped vehicle and unattended object for one camera.

    Coordinates in the settings are fractions of the picture; tracks and regions are pixels
    of the analysed frame of frame_width x frame_height.
    """

    def __init__(
        self,
        camera: str,
        settings: CameraAnalytics,
        frame_width: int,
        frame_height: int,
        look: Look | None = None,
    ) -> None:
        if frame_width <= 0 or frame_height <= 0:
            raise ValueError(f"frame size must be positive, got {frame_width}x{frame_height}")
        self.camera = camera
        tz = settings.analysis.tz()
        areas = {
            name: Area(zone.polygon, frame_width, frame_height)
            for name, zone in settings.zones.items()
        }
        self.intrusions = [
            IntrusionWatch(camera, name, areas[name], zone.intrusion, tz)
            for name, zone in settings.zones.items()
            if zone.intrusion is not None
        ]
        self.stops = [
            StoppedVehicleWatch(camera, name, areas[name], zone.stopped_vehicle)
            for name, zone in settings.zones.items()
            if zone.stopped_vehicle is not None
        ]
        self.lines = [
            LineWatch(camera, name, DirectedLine(line.points, frame_width, frame_height), line, tz)
            for name, line in settings.lines.items()
        ]
        unattended = settings.unattended_object
        self.unattended = (
            None
            if unattended is None
            else UnattendedWatch(
                camera,
                unattended,
                unattended.zone,
                areas[unattended.zone] if unattended.zone is not None else None,
                look,
            )
        )

    def update(
        self, ts_us: int, tracks: list[Track], static_regions: list[Box], disturbed: bool = False
    ) -> list[EventUpdate]:
        """Judge one analysed picture at ts_us (UTC microseconds, rising).

        `tracks` are the tracker's confirmed tracks; `static_regions` are the background
        model's boxes of things that have stood still for the unattended rule's seconds;
        `disturbed` says the view is not the learnt scene (a tamper, a swing).
        """
        updates: list[EventUpdate] = []
        if disturbed and self.unattended is not None:
            self.unattended.rescene(ts_us)
        for watch in self.intrusions:
            updates += watch.update(ts_us, tracks)
        for line in self.lines:
            updates += line.update(ts_us, tracks)
        for stop in self.stops:
            updates += stop.update(ts_us, tracks)
        if self.unattended is not None:
            updates += self.unattended.update(ts_us, tracks, static_regions)
        for update in updates:
            event = update.event
            log.debug(
                "event %s", update.phase,
                extra={"camera": self.camera, "event": event.id, "type": event.type,
                       "label": event.label, "zone": event.zone},
            )  # fmt: skip
        return updates

    def close(self, ts_us: int) -> list[EventUpdate]:
        """End every open event at ts_us: the analysis stops (end of a file, shutdown)."""
        updates: list[EventUpdate] = []
        for watch in [*self.intrusions, *self.stops]:
            updates += watch.close(ts_us)
        if self.unattended is not None:
            updates += self.unattended.close(ts_us)
        return updates

    def counts(self) -> Counter[CountKey]:
        """Line crossings not yet drained, per (line, class, direction)."""
        total: Counter[CountKey] = Counter()
        for line in self.lines:
            total += line.counts()
        return total

    def drain_counts(self, interval_end_us: int) -> Counter[CountKey]:
        """Line crossings before interval_end_us, for publishing; they are then forgotten."""
        total: Counter[CountKey] = Counter()
        for line in self.lines:
            total += line.drain_counts(interval_end_us)
        return total
