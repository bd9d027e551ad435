"""Unattended object: something left still for the rule's seconds with nobody near it.

Two witnesses, fused so that one bag raises one event:

- **the detector**: a track of a listed class (backpack, handbag, suitcase) that the tracker
  calls stationary; it has stood since `stationary_since_us`;
- **the background model**: `static_regions`, boxes of things that arrived and have stayed
  still, whatever they are (StaticObjectDetector with min_seconds = the rule's seconds, which
  restarts a region's clock whenever motion comes near it). A region is taken to have stood
  since `seconds` before it was first reported. A region mostly inside the box of another
  tracked object (a parked car, a person sitting still) is that object, not something left.

A witness of the same thing (overlapping by half of the smaller box) joins the other's
candidate. A candidate is *attended* while a person is near: the person's feet come within
NEAR_HEIGHTS of the person's own height of the candidate's foot (about 1.7 m at the object's
distance, whatever the camera's zoom; depth up the picture counts double, see _near). Its
event opens once it has been both still and unattended for `seconds`, and starts when it
became still; later a better witness (a class name, a better score) updates it. The event
ends when the object moves (picked up) or is gone: its track lost and no region seen for
`seconds` + REGION_GRACE_SECONDS (a region vanishes for up to `seconds` whenever someone
walks past it, as its clock restarts).

Before a candidate that only the background model has seen raises an alarm, the detector
takes a second, closer look (`look`: a crop around it, scaled up to the model's input, so a
distant person standing still is big enough to find). A person there means it is someone
standing, a vehicle that it is the stopped-vehicle rule's business, and street furniture
(FIXED_SCENE) that it is part of the scene: none of these is an unattended object. A bag
there names it.

No alarm comes from a scene younger than `seconds`: while the camera is disturbed (a tamper
condition, a swing, or a change of the whole picture at once that makes the motion detector
re-learn: lights, an IR switch, an exposure jump) the background model forgets the scene
(`rescene`), and the dwell is
counted from the moment the view was steady again, so a moved camera's new view, or the
camera's view after a cover is lifted, is learnt before anything in it can be "left".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vigil.analytics.rules.events import close, open_event, report
from vigil.analytics.rules.geometry import Area, intersection, overlap
from vigil.analytics.types import Detection, Track
from vigil.box import Box
from vigil.coco import VEHICLES
from vigil.events.model import Event, EventUpdate
from vigil.settings.analytics import UnattendedObjectRule

TRANSPORT = (*VEHICLES, "bicycle", "train")  # what stops on a road or at a platform
# A closer look at a place in the current picture: the detections there (None: not now).
Look = Callable[[Box], list[Detection] | None]
# Things a detector knows that belong to the scene, not to someone who left them.
FIXED_SCENE = (
    "bench", "chair", "couch", "potted plant", "dining table", "fire hydrant", "parking meter",
    "stop sign", "traffic light",
)  # fmt: skip

NEAR_HEIGHTS = 1.0
DEPTH_FACTOR = 2.0
SAME_OBJECT = 0.5  # overlap of the smaller box for two witnesses to be one object
COVERED = 0.5  # share of a region inside another object's box for it to be that object
REGION_GRACE_SECONDS = 5.0
# An unknown thing is something left only if a person was near it (NEAR_HEIGHTS) around the
# moment it became still (from ARRIVAL_BEFORE before to ARRIVAL_AFTER after): a bag is brought
# and put down by someone.
ARRIVAL_BEFORE_US = 5_000_000
ARRIVAL_AFTER_US = 2_000_000
BETTER_SCORE = 0.05


@dataclass
class _Candidate:
    box: Box  # where it is now
    track_id: int | None = None
    label: str | None = None
    score: float | None = None
    since_us: int | None = None  # when it became still; None while it moves
    still_box: Box | None = None  # where it stands
    region_seen_us: int | None = None
    region_hits: int = 0
    last_seen_us: int = 0
    near_us: int | None = None  # the last time a person was near
    nearest: float | None = None  # how far the nearest person was when it stopped (heights)
    looked: bool = False  # the detector has had its closer look
    dismissed: str | None = None  # what the closer look found it to be, if not an object
    event: Event | None = None
    fired: bool = False

    def covers(self, box: Box) -> bool:
        places = (self.box, self.still_box) if self.still_box else (self.box,)
        return any(overlap(place, box) >= SAME_OBJECT for place in places)


class UnattendedWatch:
    def __init__(
        self,
        camera: str,
        rule: UnattendedObjectRule,
        zone: str | None,
        area: Area | None,
        look: Look | None = None,
    ) -> None:
        self.camera = camera
        self.rule = rule
        self.zone = zone
        self.area = area
        self.look = look
        self.seconds_us = int(rule.seconds * 1e6)
        self.region_grace_us = self.seconds_us + int(REGION_GRACE_SECONDS * 1e6)
        self._candidates: list[_Candidate] = []
        self._scene_since_us: int | None = None  # the view has been steady since
        # Where people were lately: a region is reported `seconds` after it became still, and
        # who was near it then is its owner.
        self.history_us = self.seconds_us + ARRIVAL_BEFORE_US + ARRIVAL_AFTER_US
        self._people: deque[tuple[int, list[Box]]] = deque()

    def rescene(self, ts_us: int) -> None:
        """The view is disturbed (tamper, swing): what is not yet an alarm is forgotten."""
        self._scene_since_us = ts_us
        self._candidates = [c for c in self._candidates if c.event is not None]

    def update(self, ts_us: int, tracks: list[Track], regions: list[Box]) -> list[EventUpdate]:
        objects = [t for t in tracks if t.label in self.rule.objects and self._watched(t.box)]
        others = [t for t in tracks if t.label not in self.rule.objects]
        present = {t.id for t in objects}
        for candidate in self._candidates:
            if candidate.track_id not in present:
                candidate.track_id = None
        for track in objects:
            self._witness_track(ts_us, track)
        for region in regions:
            if self._watched(region) and not any(_covers(t.box, region) for t in others):
                self._witness_region(ts_us, region)
        people = [t.box for t in others if t.label == "person"]
        self._people.append((ts_us, people))
        while self._people and self._people[0][0] < ts_us - self.history_us:
            self._people.popleft()
        updates = []
        for candidate in self._candidates:
            if any(_near(person, candidate.box) for person in people):
                candidate.near_us = ts_us
            since = candidate.since_us
            if (
                candidate.nearest is None
                and since is not None
                and ts_us >= since + ARRIVAL_AFTER_US
            ):
                candidate.nearest = self._nearest_at(since, candidate.still_box or candidate.box)
            update = self._judge(ts_us, candidate)
            if update is not None:
                updates.append(update)
        self._candidates = [c for c in self._candidates if self._exists(ts_us, c)]
        return updates

    def close(self, ts_us: int) -> list[EventUpdate]:
        events = [c.event for c in self._candidates if c.event is not None]
        self._candidates.clear()
        return [close(event, ts_us) for event in events]

    def _witness_track(self, ts_us: int, track: Track) -> None:
        candidate = next((c for c in self._candidates if c.track_id == track.id), None)
        if candidate is None:
            candidate = next(
                (c for c in self._candidates if c.track_id is None and c.covers(track.box)), None
            )
        if candidate is None:
            candidate = _Candidate(track.box)
            self._candidates.append(candidate)
        candidate.track_id, candidate.box = track.id, track.box
        candidate.label, candidate.score = track.label, track.score
        candidate.last_seen_us = ts_us
        if candidate.still_box is None:
            if track.stationary_since_us is not None:
                candidate.since_us, candidate.still_box = track.stationary_since_us, track.box
        elif overlap(track.box, candidate.still_box) < SAME_OBJECT:
            # Carried away: whatever it does next is a new story.
            candidate.since_us = candidate.still_box = candidate.region_seen_us = None
            candidate.region_hits = 0
            candidate.fired = False

    def _witness_region(self, ts_us: int, region: Box) -> None:
        candidate = next((c for c in self._candidates if c.covers(region)), None)
        if candidate is None:
            candidate = _Candidate(region)
            self._candidates.append(candidate)
        candidate.region_seen_us = candidate.last_seen_us = ts_us
        candidate.region_hits += 1
        if candidate.track_id is None:
            candidate.box = region
            if candidate.still_box is None:
                # The background model reports a region once it has stood `seconds`.
                candidate.since_us, candidate.still_box = ts_us - self.seconds_us, region

    def _judge(self, ts_us: int, candidate: _Candidate) -> EventUpdate | None:
        event = candidate.event
        if event is not None:
            if candidate.since_us is None or not self._exists(ts_us, candidate):
                candidate.event = None
                return close(event, candidate.last_seen_us)
            better = (candidate.score or 0.0) >= (event.score or 0.0) + BETTER_SCORE
            if candidate.label != event.label or better:
                event.label, event.score = candidate.label, candidate.score
                event.box = candidate.box
                event.attributes["source"] = self._source(candidate)
                return report("update", event)
            return None
        since = candidate.since_us
        if candidate.fired or since is None:
            return None
        if candidate.track_id is None and candidate.region_hits < 2:
            return None  # one picture's region may be noise
        left = max(since, candidate.near_us or since, self._scene_since_us or since)
        if ts_us - left < self.seconds_us or candidate.dismissed:
            return None
        if candidate.label is None:
            if candidate.nearest is None:
                return None  # who was near when it stopped is not known yet
            if candidate.nearest > NEAR_HEIGHTS:
                # Nobody brought it: a train or a car that stopped, a person standing still
                # too far or too small to be detected, a patch of light; not something left
                # (unless the detector later names it a bag).
                return None
            if not candidate.looked and (not self._look_closer(candidate) or candidate.dismissed):
                return None
        candidate.fired = True
        candidate.event = open_event(
            self.camera, "unattended_object", since, label=candidate.label, zone=self.zone,
            score=candidate.score, box=candidate.box, source=self._source(candidate),
            dwell_s=round((ts_us - left) / 1e6, 1),
            nearest_person=None if candidate.nearest in (None, math.inf) else round(
                candidate.nearest, 2),
        )  # fmt: skip
        return report("new", candidate.event)

    def _nearest_at(self, since_us: int, place: Box) -> float:
        """The nearest any person came to `place` around `since_us`, in their heights."""
        return min(
            (
                _distance(person, place)
                for ts_us, people in self._people
                if since_us - ARRIVAL_BEFORE_US <= ts_us <= since_us + ARRIVAL_AFTER_US
                for person in people
            ),
            default=math.inf,
        )

    def _look_closer(self, candidate: _Candidate) -> bool:
        """Ask the detector what the background model found; False: no answer yet."""
        if self.look is None:
            candidate.looked = True
            return True
        found = self.look(candidate.box)
        if found is None:
            return False
        candidate.looked = True
        there = [d for d in found if _covers(d.box, candidate.box) or overlap(d.box, candidate.box)
                 >= SAME_OBJECT]  # fmt: skip
        if not there:
            return True
        best = max(there, key=lambda d: (d.box.iou(candidate.box), d.score))
        if best.label == "person" or best.label in TRANSPORT or best.label in FIXED_SCENE:
            candidate.dismissed = best.label
        elif best.label in self.rule.objects:
            candidate.label, candidate.score = best.label, best.score
        return True

    def _exists(self, ts_us: int, candidate: _Candidate) -> bool:
        if candidate.track_id is not None:
            return True
        seen = candidate.region_seen_us
        return seen is not None and ts_us - seen <= self.region_grace_us

    def _source(self, candidate: _Candidate) -> str:
        if candidate.label is None:
            return "background"
        return "both" if candidate.region_hits else "detector"

    def _watched(self, box: Box) -> bool:
        return self.area is None or self.area.contains(box.bottom_centre)


def _covers(thing: Box, region: Box) -> bool:
    return region.area > 0 and intersection(thing, region) / region.area >= COVERED


def _distance(person: Box, thing: Box) -> float:
    """From the person's feet to the thing's foot on the ground, in the person's heights."""
    (px, py), (tx, ty) = person.bottom_centre, thing.bottom_centre
    return math.hypot(px - tx, DEPTH_FACTOR * (py - ty)) / max(person.height, 1.0)


def _near(person: Box, thing: Box) -> bool:
    """Feet within NEAR_HEIGHTS of the person's height of the thing's foot, on the ground.

    Image distance up and down the picture is depth, which a camera looking down
    foreshortens: it counts DEPTH_FACTOR times, so someone walking behind, far away, is not
    near because the picture puts them just above the bag.
    """
    return _distance(person, thing) <= NEAR_HEIGHTS
