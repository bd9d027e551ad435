"""Rules on synthetic track sequences, and the validation of their configuration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vigil.analytics.rules import RuleEngine
from vigil.analytics.tracker import Tracker
from vigil.analytics.types import Detection, Track
from vigil.box import Box
from vigil.events.model import EventUpdate
from vigil.settings.analytics import CameraAnalytics

W, H = 1000, 1000  # frame pixels: normalised 0.1 is 100 px
FPS = 5
STEP = 200_000  # microseconds between analysed pictures
SECOND = 1_000_000


def utc(hour: int, minute: int = 0) -> int:
    return int(datetime(2024, 3, 5, hour, minute, tzinfo=UTC).timestamp() * SECOND)


T0 = utc(12)


def engine(config: dict) -> RuleEngine:
    return RuleEngine("gate-north", CameraAnalytics.model_validate(config), W, H)


def track(
    id: int, label: str, box: Box, ts: int, still: int | None = None, score: float = 0.8
) -> Track:
    return Track(id, label, box, score, first_us=T0, last_us=ts, stationary_since_us=still)


def standing(x: float, y: float, w: float = 40, h: float = 100) -> Box:
    """A box whose bottom centre (its feet) is at (x, y)."""
    return Box(x - w / 2, y - h, x + w / 2, y)


def phases(updates: list[EventUpdate]) -> list[tuple[str, str]]:
    return [(u.phase, u.event.type) for u in updates]


# -- intrusion ----------------------------------------------------------------------------

YARD = {"polygon": [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]}


def walk_through_yard(rules: RuleEngine, start: int, label: str = "person") -> list[EventUpdate]:
    """From x=60 (outside) to x=635 (outside) along y=700, through the yard (100..400)."""
    updates = []
    for i, x in enumerate(range(60, 660, 25)):
        ts = start + i * STEP
        updates += rules.update(ts, [track(1, label, standing(x, 700), ts)], [])
    return updates


def test_intrusion_opens_on_entering_and_ends_on_leaving() -> None:
    rules = engine({"zones": {"yard": {**YARD, "intrusion": {"objects": ["person"]}}}})
    updates = walk_through_yard(rules, T0)
    assert phases(updates) == [("new", "intrusion"), ("end", "intrusion")]
    new, end = (u.event for u in updates)
    assert new.id == end.id and new.zone == "yard" and new.label == "person"
    assert new.start_us == T0 + 2 * STEP  # x=110: the first picture inside, not the third
    assert end.end_us == T0 + 13 * STEP  # x=385 was the last picture inside
    assert new.end_us is None  # each update carries its own copy of the event


def test_intrusion_ignores_other_classes_and_border_jitter() -> None:
    rules = engine({"zones": {"yard": {**YARD, "intrusion": {"objects": ["person"]}}}})
    assert walk_through_yard(rules, T0, label="car") == []
    updates = []
    for i in range(30):  # feet jittering across the zone's top edge at y=500
        ts = T0 + i * STEP
        y = 505 if i % 3 == 0 else 495
        updates += rules.update(ts, [track(2, "person", standing(200, y), ts)], [])
    assert updates == []


def test_intrusion_ends_when_the_object_is_lost() -> None:
    rules = engine({"zones": {"yard": {**YARD, "intrusion": {}}}})
    updates = []
    for i in range(5):
        ts = T0 + i * STEP
        updates += rules.update(ts, [track(1, "person", standing(200, 700), ts)], [])
    updates += rules.update(T0 + 20 * STEP, [], [])
    assert phases(updates) == [("new", "intrusion"), ("end", "intrusion")]
    assert updates[-1].event.end_us == T0 + 4 * STEP


@pytest.mark.parametrize(
    ("hour", "minute", "armed"),
    [(23, 30, True), (2, 0, True), (5, 58, True), (6, 0, False), (12, 0, False), (21, 59, False)],
)
def test_intrusion_schedule_wraps_past_midnight(hour: int, minute: int, armed: bool) -> None:
    zone = {**YARD, "intrusion": {"objects": ["person"], "schedule": "22:00-06:00"}}
    rules = engine({"analysis": {"timezone": "UTC"}, "zones": {"yard": zone}})
    updates = walk_through_yard(rules, utc(hour, minute))
    assert bool(updates) == armed


def test_intrusion_schedule_follows_the_configured_time_zone() -> None:
    zone = {**YARD, "intrusion": {"schedule": ["08:00-09:00", "22:00-06:00"]}}
    tokyo = engine({"analysis": {"timezone": "Asia/Tokyo"}, "zones": {"yard": zone}})
    assert walk_through_yard(tokyo, utc(23, 30)) != []  # 08:30 in Tokyo
    assert walk_through_yard(tokyo, utc(10, 0)) == []  # 19:00 in Tokyo


def test_intrusion_update_on_a_better_picture() -> None:
    rules = engine({"zones": {"yard": {**YARD, "intrusion": {}}}})
    updates = []
    for i, score in enumerate([0.6, 0.6, 0.6, 0.62, 0.9, 0.7]):
        ts = T0 + i * STEP
        box = standing(200 + i, 700)
        updates += rules.update(ts, [track(1, "person", box, ts, score=score)], [])
    assert phases(updates) == [("new", "intrusion"), ("update", "intrusion")]
    assert updates[-1].event.score == 0.9


# -- line crossing --------------------------------------------------------------------------

ENTRY = {"points": [[0.2, 0.5], [0.8, 0.5]], "count": ["person", "car"]}


def follow(rules: RuleEngine, track_id: int, label: str, path: list[tuple[float, float]],
           start: int) -> list[EventUpdate]:  # fmt: skip
    updates = []
    for i, (x, y) in enumerate(path):
        ts = start + i * STEP
        updates += rules.update(ts, [track(track_id, label, standing(x, y), ts)], [])
    return updates


def test_line_crossing_directions() -> None:
    rules = engine({"lines": {"entry": ENTRY}})
    down = follow(rules, 1, "person", [(500, y) for y in range(300, 700, 50)], T0)
    up = follow(rules, 2, "person", [(400, y) for y in range(700, 300, -50)], T0 + SECOND)
    assert phases(down) == [("new", "line_crossing"), ("end", "line_crossing")]
    assert down[0].event.attributes == {"direction": "in"}  # left of A→B to its right
    assert down[0].event.zone == "entry" and down[0].event.start_us == down[1].event.end_us
    assert up[0].event.attributes == {"direction": "out"}
    assert rules.counts() == {("entry", "person", "in"): 1, ("entry", "person", "out"): 1}


def test_line_jitter_does_not_count_and_a_jittery_crossing_counts_once() -> None:
    rules = engine({"lines": {"entry": ENTRY}})
    # Feet wobbling ±8 px on the line (band: a tenth of the 100 px box, 10 px).
    follow(rules, 1, "person", [(500, 500 + (8 if i % 2 else -8)) for i in range(20)], T0)
    assert rules.counts() == {}
    path = [(500, 450), (500, 495), (500, 505), (500, 496), (500, 504), (500, 495), (500, 560)]
    updates = follow(rules, 2, "person", path, T0 + 10 * SECOND)
    assert len(updates) == 2 and rules.counts() == {("entry", "person", "in"): 1}


def test_line_counts_every_crossing_but_one_event_per_object() -> None:
    rules = engine({"lines": {"entry": ENTRY}})
    there_and_back = [(500, 400), (500, 600), (500, 400), (500, 600)]
    updates = follow(rules, 1, "person", there_and_back, T0)
    assert phases(updates) == [("new", "line_crossing"), ("end", "line_crossing")]
    assert rules.counts() == {("entry", "person", "in"): 2, ("entry", "person", "out"): 1}


def test_line_counts_per_class_and_drain_by_interval() -> None:
    rules = engine({"lines": {"entry": {**ENTRY, "events": "none"}}})
    across = [(500, 400), (500, 600)]
    updates = follow(rules, 1, "person", across, T0)
    updates += follow(rules, 2, "person", across, T0 + 10 * SECOND)
    updates += follow(rules, 3, "car", across, T0 + 20 * SECOND)
    updates += follow(rules, 4, "truck", across, T0 + 30 * SECOND)  # not counted
    updates += follow(rules, 5, "person", across, T0 + 70 * SECOND)
    assert updates == []  # events: none
    minute = rules.drain_counts(T0 + 60 * SECOND)
    assert minute == {("entry", "person", "in"): 2, ("entry", "car", "in"): 1}
    assert rules.counts() == {("entry", "person", "in"): 1}
    assert rules.drain_counts(T0 + 120 * SECOND) == {("entry", "person", "in"): 1}
    assert rules.counts() == {}


def test_walking_round_the_end_of_a_line_is_no_crossing() -> None:
    rules = engine({"lines": {"entry": ENTRY}})
    round_the_end = [(850, 400), (900, 450), (900, 550), (850, 600)]  # the line ends at x=800
    assert follow(rules, 1, "person", round_the_end, T0) == []
    assert rules.counts() == {}


def test_line_events_only_in_the_reported_direction() -> None:
    rules = engine({"lines": {"entry": {**ENTRY, "events": "out"}}})
    assert follow(rules, 1, "person", [(500, 400), (500, 600)], T0) == []
    assert len(follow(rules, 2, "person", [(500, 600), (500, 400)], T0 + SECOND)) == 2


# -- stopped vehicle ------------------------------------------------------------------------

KERB = {"polygon": [[0.5, 0.6], [0.9, 0.6], [0.9, 0.8], [0.5, 0.8]]}
PARKED = Box(600, 600, 800, 700)  # bottom centre (700, 700): in the kerb zone


def test_stopped_vehicle_fires_after_seconds_once_and_ends_when_it_drives_off() -> None:
    rules = engine({"zones": {"kerb": {**KERB, "stopped_vehicle": {"seconds": 60}}}})
    stopped_at = T0
    updates = []
    for i in range(0, 5 * 60 * FPS):  # five minutes parked
        ts = T0 + i * STEP
        still = stopped_at if i >= 5 * FPS else None  # the tracker flags it after 5 s
        updates += rules.update(ts, [track(1, "car", PARKED, ts, still)], [])
        if i == 60 * FPS - 1:
            assert updates == []
    assert phases(updates) == [("new", "stopped_vehicle")]
    event = updates[0].event
    assert event.start_us == stopped_at and event.zone == "kerb" and event.label == "car"
    ts = T0 + 301 * SECOND
    moving = Box(700, 600, 900, 700)
    updates = rules.update(ts, [track(1, "car", moving, ts, None)], [])
    assert phases(updates) == [("end", "stopped_vehicle")] and updates[0].event.end_us == ts


def test_a_parked_car_whose_track_is_lost_and_found_again_is_one_stop() -> None:
    rules = engine({"zones": {"kerb": {**KERB, "stopped_vehicle": {"seconds": 60}}}})
    updates = []
    for i in range(70 * FPS):
        ts = T0 + i * STEP
        updates += rules.update(ts, [track(1, "car", PARKED, ts, T0)], [])
    hidden = T0 + 70 * SECOND  # a bus stands in front of it: the track is lost
    updates += rules.update(hidden, [], [])
    for i in range(200 * FPS):  # found again as a new track, which stops again
        ts = hidden + 60 * SECOND + i * STEP
        updates += rules.update(ts, [track(7, "truck", PARKED, ts, hidden + 60 * SECOND)], [])
    assert phases(updates) == [("new", "stopped_vehicle"), ("end", "stopped_vehicle")]


def test_stopped_vehicle_only_in_its_zone_and_only_vehicles() -> None:
    rules = engine({"zones": {"kerb": {**KERB, "stopped_vehicle": {"seconds": 10}}}})
    outside = Box(100, 100, 300, 200)
    updates = []
    for i in range(30 * FPS):
        ts = T0 + i * STEP
        tracks = [track(1, "car", outside, ts, T0), track(2, "person", PARKED, ts, T0)]
        updates += rules.update(ts, tracks, [])
    assert updates == []


# -- unattended object ----------------------------------------------------------------------

BAG = Box(500, 640, 540, 680)
NEAR_OWNER = standing(560, 690, h=120)  # right beside the bag
FAR = standing(950, 300, h=120)  # across the room


def test_a_bag_with_its_owner_beside_it_is_not_unattended() -> None:
    rules = engine({"unattended_object": {"seconds": 30}})
    updates = []
    for i in range(120 * FPS):
        ts = T0 + i * STEP
        tracks = [track(1, "backpack", BAG, ts, T0), track(2, "person", NEAR_OWNER, ts, T0)]
        updates += rules.update(ts, tracks, [])
    assert updates == []


def test_a_bag_left_behind_raises_one_event_after_seconds_and_ends_when_taken() -> None:
    rules = engine({"unattended_object": {"seconds": 30}})
    left_at = T0 + 20 * SECOND
    updates = []
    for i in range(100 * FPS):
        ts = T0 + i * STEP
        owner = NEAR_OWNER if ts < left_at else FAR
        tracks = [track(1, "backpack", BAG, ts, T0), track(2, "person", owner, ts)]
        new = rules.update(ts, tracks, [])
        if new:
            fired_at = ts
        updates += new
    assert phases(updates) == [("new", "unattended_object")]
    assert fired_at == left_at - STEP + 30 * SECOND  # 30 s after the owner was last near
    event = updates[0].event
    assert event.box == BAG and event.label == "backpack" and event.start_us == T0
    picked_up = Box(700, 400, 740, 440)
    ts = T0 + 101 * SECOND
    updates = rules.update(ts, [track(1, "backpack", picked_up, ts, None)], [])
    assert phases(updates) == [("end", "unattended_object")]


def leave_unknown_thing(
    rules: RuleEngine, box: Box, *, owner: bool = True, disturbed_at: int | None = None
) -> tuple[list[EventUpdate], int]:
    """Someone puts a thing down at T0 and walks off 2 s later (`owner`), or nobody is ever
    near; the background model reports it from T0 + 32 s on (it has been still since T0 + 2 s,
    when the owner's motion last touched it). Returns the updates and when the first came."""
    updates, fired = [], 0
    for i in range(50 * FPS):
        ts = T0 + i * STEP
        person = standing(box.x2 + 20, box.y2, h=120) if ts < T0 + 2 * SECOND else FAR
        tracks = [track(2, "person", person, ts)] if owner else []
        regions = [box] if ts >= T0 + 32 * SECOND else []
        new = rules.update(ts, tracks, regions, disturbed=ts == disturbed_at)
        if new and not updates:
            fired = ts
        updates += new
    return updates, fired


def test_an_unknown_object_from_the_background_model_raises_an_event() -> None:
    rules = engine({"unattended_object": {"seconds": 30}})
    box = Box(300, 300, 380, 360)
    updates, fired = leave_unknown_thing(rules, box)
    assert phases(updates) == [("new", "unattended_object")]
    assert fired == T0 + 32 * SECOND + STEP  # its second report: one picture may be noise
    event = updates[0].event
    assert event.label is None and event.box == box
    assert event.start_us == T0 + 2 * SECOND  # backdated: reported once still for 30 s
    # The evidence for it: which witness, the dwell, and how near its owner was.
    assert event.attributes["source"] == "background"
    assert event.attributes["dwell_s"] == 30.2
    assert 0 < event.attributes["nearest_person"] <= 1.0
    # Someone walks past (the region vanishes while its clock restarts): the event stays.
    gone = T0 + 50 * SECOND
    for i in range(30 * FPS):
        updates += rules.update(gone + i * STEP, [], [])
    assert len(updates) == 1
    updates = rules.update(gone + 40 * SECOND, [], [])  # removed: seconds + 5 s without it
    assert phases(updates) == [("end", "unattended_object")]
    assert updates[0].event.end_us == gone - STEP


def test_an_unknown_thing_nobody_brought_is_not_left_unless_the_detector_names_a_bag() -> None:
    """A train that stopped, a distant person standing still: nobody put them down."""
    rules = engine({"unattended_object": {"seconds": 30}})
    box = Box(300, 300, 380, 360)
    updates, _ = leave_unknown_thing(rules, box, owner=False)
    assert updates == []
    ts = T0 + 50 * SECOND
    updates = rules.update(ts, [track(5, "suitcase", box, ts, T0)], [box])
    assert phases(updates) == [("new", "unattended_object")]
    assert updates[0].event.label == "suitcase"


@pytest.mark.parametrize(
    ("seen", "raised", "label"),
    [("person", False, None), ("train", False, None), ("bench", False, None),
     ("backpack", True, "backpack"), (None, True, None)],
)  # fmt: skip
def test_the_detector_takes_a_closer_look_at_what_only_the_background_saw(
    seen: str | None, raised: bool, label: str | None
) -> None:
    box = Box(300, 300, 380, 360)
    looks: list[Box] = []

    def look(place: Box) -> list[Detection]:
        looks.append(place)
        return [Detection(seen, 0.8, Box(290, 280, 390, 365))] if seen else []

    rules = RuleEngine(
        "gate-north", CameraAnalytics.model_validate({"unattended_object": {"seconds": 30}}),
        W, H, look,
    )  # fmt: skip
    updates, _ = leave_unknown_thing(rules, box)
    assert looks == [box], "one look, when it is due"
    assert phases(updates) == ([("new", "unattended_object")] if raised else [])
    if raised:
        assert updates[0].event.label == label


def test_no_alarm_comes_from_a_scene_younger_than_the_dwell() -> None:
    """The camera was disturbed (a swing, a cover) at T0 + 20 s: the thing that has stood
    since T0 + 2 s is judged from the steady view's start, and the view is new."""
    rules = engine({"unattended_object": {"seconds": 30}})
    box = Box(300, 300, 380, 360)
    updates, fired = leave_unknown_thing(rules, box, disturbed_at=T0 + 20 * SECOND)
    assert updates == [], "in the 50 s, the view was never 30 s old with the thing in it"
    rules = engine({"unattended_object": {"seconds": 30}})
    updates, fired = leave_unknown_thing(rules, box, disturbed_at=T0 + 1 * SECOND)
    assert phases(updates) == [("new", "unattended_object")]
    assert fired >= T0 + 32 * SECOND


@settings(max_examples=60, deadline=None)
@given(
    stays=st.integers(min_value=0, max_value=60),  # seconds the owner stays beside it
    dwell=st.integers(min_value=5, max_value=40),
    leaves=st.booleans(),
)
def test_an_object_is_unattended_only_after_its_owner_has_gone_for_the_dwell(
    stays: int, dwell: int, leaves: bool
) -> None:
    """Property: a bag static while its owner stays beside it is never unattended; once the
    owner has gone, it is, once, after the dwell."""
    rules = engine({"unattended_object": {"seconds": dwell}})
    left_at = T0 + stays * SECOND
    fired = []
    for i in range(100 * FPS):
        ts = T0 + i * STEP
        gone = leaves and ts >= left_at
        tracks = [track(1, "backpack", BAG, ts, T0),
                  track(2, "person", FAR if gone else NEAR_OWNER, ts)]  # fmt: skip
        fired += [ts for u in rules.update(ts, tracks, []) if u.phase == "new"]
    if not leaves:
        assert fired == []
    else:
        assert len(fired) == 1
        last_near = max(T0, left_at - STEP)
        assert fired[0] - last_near >= dwell * SECOND
        assert fired[0] - last_near < dwell * SECOND + 2 * STEP


def test_a_static_region_on_a_parked_car_or_a_person_is_not_left_luggage() -> None:
    rules = engine({"unattended_object": {"seconds": 30}})
    car = Box(100, 500, 400, 700)
    sitter = standing(800, 800, h=120)
    updates = []
    for i in range(60 * FPS):
        ts = T0 + i * STEP
        tracks = [track(1, "car", car, ts, T0), track(2, "person", sitter, ts, T0)]
        regions = [Box(120, 520, 390, 690), Box(785, 690, 815, 800)]
        updates += rules.update(ts, tracks, regions)
    assert updates == []


def test_a_bag_seen_by_both_the_detector_and_the_background_is_one_event() -> None:
    rules = engine({"unattended_object": {"seconds": 30}})
    region = Box(495, 630, 545, 685)
    updates = []
    for i in range(5):  # the background model reports it first, then the detector finds it
        ts = T0 + i * STEP
        updates += rules.update(ts, [], [region])
    for i in range(5, 50):
        ts = T0 + i * STEP
        still = T0 if i >= 10 else None
        updates += rules.update(ts, [track(3, "handbag", BAG, ts, still, score=0.7)], [region])
    # Nobody was seen bringing it, so the background alone does not raise it; the detector
    # then names it a bag, and the one event carries both witnesses.
    assert phases(updates) == [("new", "unattended_object")]
    event = updates[0].event
    assert event.label == "handbag" and event.box == BAG
    assert event.attributes["source"] == "both"


def test_unattended_object_only_in_its_zone() -> None:
    zone = {"polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.3], [0.0, 0.3]]}
    rules = engine({"zones": {"hall": zone}, "unattended_object": {"seconds": 5, "zone": "hall"}})
    inside = Box(50, 50, 90, 90)
    updates = []
    for i in range(20 * FPS):
        ts = T0 + i * STEP
        owner = standing(110, 90, h=120) if ts < T0 + SECOND else FAR  # puts it down, goes
        tracks = [track(1, "suitcase", BAG, ts, T0), track(2, "person", owner, ts)]
        updates += rules.update(ts, tracks, [inside] if ts >= T0 + 6 * SECOND else [])
    assert phases(updates) == [("new", "unattended_object")]
    assert updates[0].event.zone == "hall" and updates[0].event.label is None


# -- tracker and rules together -------------------------------------------------------------


def test_a_car_that_parks_gives_one_stopped_vehicle_event_through_the_tracker() -> None:
    config = {"zones": {"kerb": {**KERB, "stopped_vehicle": {"seconds": 20}}}}
    rules, tracker = engine(config), Tracker(FPS)
    updates = []
    for i in range(120 * FPS):
        ts = T0 + i * STEP
        x = min(300 + 20 * i, 600)  # drives in from the left, parks at x=600 after 3 s
        seen = Box(x, 600 + (i % 3), x + 200, 700 + (i % 2))
        found = [Detection("car", 0.6 + 0.3 * (i % 2), seen)] if i % 11 else []  # misses
        updates += rules.update(ts, tracker.update(ts, found), [])
    assert phases(updates) == [("new", "stopped_vehicle")]
    assert updates[0].event.start_us == pytest.approx(T0 + 3 * SECOND, abs=SECOND)
    assert rules.close(T0 + 121 * SECOND)[0].phase == "end"


# -- configuration --------------------------------------------------------------------------

ISSUE_EXAMPLE = """
analysis: {fps: 5, objects: [person, car, truck, bus, motorcycle, bicycle, backpack, handbag, suitcase]}
zones:
  yard: {polygon: [[0.1,0.5],[0.4,0.5],[0.4,0.9],[0.1,0.9]], intrusion: {objects: [person, car], schedule: "22:00-06:00"}}
  kerb: {polygon: [[0.5,0.6],[0.9,0.6],[0.9,0.8],[0.5,0.8]], stopped_vehicle: {seconds: 60}}
lines:
  entry: {points: [[0.2,0.6],[0.8,0.6]], count: [person, car]}
unattended_object: {seconds: 60}
tamper: true
"""  # noqa: E501


def test_the_issue_example_is_valid() -> None:
    settings = CameraAnalytics.model_validate(yaml.safe_load(ISSUE_EXAMPLE))
    assert settings.zones["yard"].intrusion.schedule.windows[0].start == 22 * 60
    assert settings.unattended_object.seconds == 60 and settings.tamper
    assert CameraAnalytics().analysis.fps == 5 and CameraAnalytics().unattended_object is None
    RuleEngine("gate-north", settings, 640, 360)


TRIANGLE = [[0, 0], [1, 0], [1, 1]]
BAD_SCHEDULES = ["22:00", "25:00-06:00", "10:00-10:00", "ten-six", []]
BAD_SETTINGS = [
    ({"zones": {"a": {"polygon": [[0, 0], [1, 1]]}}}, "zones.a.polygon", "at least 3"),
    ({"zones": {"a": {"polygon": [[0, 0], [0.5, 0.5], [1, 1]]}}}, "zones.a.polygon", "no area"),
    ({"zones": {"a": {"polygon": [[0, 0], [1, 0], [1, 1.2]]}}}, "polygon.2", "between 0 and 1"),
    ({"lines": {"l": {"points": [[0, 0], [1, 1], [1, 0]]}}}, "lines.l.points", "exactly 2"),
    ({"analysis": {"objects": ["persn"]}}, "analysis.objects", "did you mean person"),
    ({"lines": {"l": {"points": [[0, 0], [1, 1]], "count": ["lorry"]}}}, "count", "'lorry'"),
    *(
        (
            {"zones": {"a": {"polygon": TRIANGLE, "intrusion": {"schedule": bad}}}},
            "zones.a.intrusion.schedule",
            "schedule",
        )
        for bad in BAD_SCHEDULES
    ),
    ({"analysis": {"timezone": "Mars/Olympus"}}, "analysis.timezone", "IANA"),
    ({"unattended_object": {"zone": "hall"}}, "", "not a zone"),
    ({"analysis": {"objects": ["person"]}, "unattended_object": {}}, "", "add them"),
    ({"zones": {"Front Door": {"polygon": TRIANGLE}}}, "", "lowercase"),
    ({"zones": {"x": {"polygon": TRIANGLE}}, "lines": {"x": ENTRY}}, "", "rename one"),
    ({"zones": {"x": {"polygon": TRIANGLE, "loiter": {}}}}, "zones.x.loiter", "extra"),
]


@pytest.mark.parametrize(("config", "where", "says"), BAD_SETTINGS)
def test_bad_settings_are_refused_with_the_key_and_a_hint(
    config: dict, where: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        CameraAnalytics.model_validate(config)
    text = str(caught.value)
    assert where in text
    assert says.lower() in text.lower()
