"""A camera's analytics configuration: analysis rate, objects, zones, lines and rules.

Coordinates are normalised (0..1 of the picture's width and height, origin top-left), so a
configuration survives a change of stream resolution. Schedules are local wall-clock times
of the machine, or of `analysis.timezone` when it names an IANA zone.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from vigil.coco import BAGS, COCO_CLASSES, VEHICLES
from vigil.settings.base import Strict

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
DEFAULT_OBJECTS = ("person", "car", "truck", "bus", "motorcycle", "bicycle", *BAGS)
MINUTES_PER_DAY = 24 * 60


def _object_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if name not in COCO_CLASSES:
            close = difflib.get_close_matches(name, COCO_CLASSES, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"{name!r} is not an object the detector knows{hint} "
                f"(the COCO classes: person, car, truck, bus, backpack, suitcase, ...)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"{list(names)} lists an object twice")
    return names


ObjectNames = Annotated[tuple[str, ...], AfterValidator(_object_names)]


def _point(point: tuple[float, float]) -> tuple[float, float]:
    if not all(0.0 <= v <= 1.0 for v in point):
        raise ValueError(
            f"point {list(point)} is outside the picture: coordinates are fractions of the "
            "width and height, between 0 and 1 (pixels divided by the frame size)"
        )
    return point


Point = Annotated[tuple[float, float], AfterValidator(_point)]


def _polygon(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(points) < 3:
        raise ValueError(f"a zone polygon needs at least 3 points [x, y], got {len(points)}")
    doubled_area = sum(
        x1 * y2 - x2 * y1
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True)
    )
    if abs(doubled_area) < 1e-9:
        raise ValueError(f"the polygon {[list(p) for p in points]} has no area (points in a line)")
    return points


def _line(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    if len(points) != 2:
        raise ValueError(f"a line has exactly 2 points [[x, y], [x, y]], got {len(points)}")
    if points[0] == points[1]:
        raise ValueError(f"the line's two points are the same, {list(points[0])}")
    return points


Polygon = Annotated[tuple[Point, ...], AfterValidator(_polygon)]
LinePoints = Annotated[tuple[Point, ...], AfterValidator(_line)]


class TimeWindow(Strict):
    """[start, end) in minutes after local midnight; end < start wraps past midnight."""

    start: int = Field(ge=0, lt=MINUTES_PER_DAY)
    end: int = Field(ge=0, le=MINUTES_PER_DAY)

    def contains(self, minute: float) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def _minutes(text: str, where: str) -> int:
    match = TIME.match(text.strip())
    hours, minutes = (int(v) for v in match.groups()) if match else (-1, -1)
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes > 0):
        raise ValueError(f"{where}: {text!r} is not a time; write HH:MM from 00:00 to 24:00")
    return hours * 60 + minutes


def _window(text: Any) -> TimeWindow:
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(
            f"schedule {text!r} is not a time window; write 'HH:MM-HH:MM' such as '22:00-06:00'"
        )
    first, second = text.split("-")
    start, end = _minutes(first, f"schedule {text!r}"), _minutes(second, f"schedule {text!r}")
    if start == MINUTES_PER_DAY:
        raise ValueError(f"schedule {text!r} starts at 24:00; write 00:00")
    if start == end:
        raise ValueError(
            f"schedule {text!r} starts and ends at the same time; for all day, leave schedule out"
        )
    return TimeWindow(start=start, end=end)


class Schedule(Strict):
    """When a rule is armed: one 'HH:MM-HH:MM' window or a list of them (any one arms it)."""

    windows: tuple[TimeWindow, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError("schedule is an empty list; leave it out to arm the rule always")
            return {"windows": [_window(v) for v in value]}
        return value

    def active(self, ts_us: int, tz: tzinfo | None) -> bool:
        """Whether ts_us (UTC microseconds) falls in a window, in tz or the machine's local time."""
        local = datetime.fromtimestamp(ts_us / 1e6, tz)
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(window.contains(minute) for window in self.windows)


def _timezone(name: str | None) -> str | None:
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{name!r} is not a known time zone; write an IANA name such as 'Europe/Paris' "
                "or leave it out to use the machine's local time"
            ) from None
    return name


class AnalysisSettings(Strict):
    """How a camera's picture is analysed (the `analysis:` section)."""

    fps: float = Field(5.0, gt=0, le=30, description="analysed pictures per second")
    objects: ObjectNames = Field(DEFAULT_OBJECTS, description="classes detected and tracked")
    min_score: float = Field(
        0.5, ge=0.05, le=1.0, description="a detection starts a track from this score"
    )
    keyframes_only: bool = Field(False, description="low-power mode: decode keyframes only")
    timezone: Annotated[str | None, AfterValidator(_timezone)] = Field(
        None, description="IANA zone of the schedules; None: the machine's local time"
    )

    def tz(self) -> tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


class IntrusionRule(Strict):
    """An object of these classes entering the zone, while the schedule (if any) is armed."""

    objects: ObjectNames = ("person",)
    schedule: Schedule | None = None


class StoppedVehicleRule(Strict):
    """A vehicle standing still inside the zone for `seconds`."""

    seconds: float = Field(60.0, gt=0, le=86400)
    objects: ObjectNames = VEHICLES


class Zone(Strict):
    polygon: Polygon
    intrusion: IntrusionRule | None = None
    stopped_vehicle: StoppedVehicleRule | None = None


class Line(Strict):
    """A directed line A→B. "in" is a crossing from its left to its right as seen on the picture.

    For a line drawn left to right, "in" is moving down the picture; swap the points to flip.
    """

    points: LinePoints
    count: ObjectNames = Field(("person",), description="classes counted and reported")
    events: Literal["both", "in", "out", "none"] = Field(
        "both", description="which crossings raise an event (counts are kept for all)"
    )
    schedule: Schedule | None = Field(None, description="when crossings raise events")


class UnattendedObjectRule(Strict):
    """Something left still for `seconds` with nobody near it: in the zone or the whole frame.

    Detected bags (`objects`) and unknown things (from the background model) both count;
    `objects: []` keeps only the detector-free path.
    """

    seconds: float = Field(60.0, gt=0, le=86400)
    zone: str | None = None
    objects: ObjectNames = BAGS


def _names(kind: str, names: Any) -> None:
    for name in names:
        if not NAME.match(name):
            raise ValueError(
                f"{kind} name {name!r} must be lowercase letters, digits, '-' or '_' "
                "(at most 63), starting with a letter or digit"
            )


class CameraAnalytics(Strict):
    """Everything a camera's analysis needs to know; the camera's optional analytics fields."""

    analysis: AnalysisSettings = AnalysisSettings()
    zones: dict[str, Zone] = Field(default_factory=dict)
    lines: dict[str, Line] = Field(default_factory=dict)
    unattended_object: UnattendedObjectRule | None = None
    tamper: bool = False
    # Filled with solid black in every picture a person sees and every picture analysed.
    privacy_masks: list[Polygon] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CameraAnalytics:
        _names("zone", self.zones)
        _names("line", self.lines)
        both = sorted(set(self.zones) & set(self.lines))
        if both:
            raise ValueError(f"{both} name both a zone and a line; events name one, so rename one")
        unattended = self.unattended_object
        if unattended is not None and unattended.zone not in (None, *self.zones):
            known = ", ".join(sorted(self.zones)) or "none are configured"
            raise ValueError(
                f"unattended_object.zone {unattended.zone!r} is not a zone of this camera "
                f"(zones: {known})"
            )
        tracked = set(self.analysis.objects) | {"person"}
        for where, names in self._rule_objects():
            missing = [name for name in names if name not in tracked]
            if missing:
                raise ValueError(
                    f"{where} lists {missing}, which analysis.objects does not track: "
                    f"add them to analysis.objects or remove them from {where}"
                )
        return self

    def _rule_objects(self) -> list[tuple[str, tuple[str, ...]]]:
        found = []
        for name, zone in self.zones.items():
            for rule_name, rule in (
                ("intrusion", zone.intrusion),
                ("stopped_vehicle", zone.stopped_vehicle),
            ):
                if rule is not None:
                    found.append((f"zones.{name}.{rule_name}.objects", rule.objects))
        for name, line in self.lines.items():
            found.append((f"lines.{name}.count", line.count))
        if self.unattended_object is not None:
            found.append(("unattended_object.objects", self.unattended_object.objects))
        return found
