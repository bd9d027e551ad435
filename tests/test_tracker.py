"""The per-camera tracker: stable ids, crossings, stationary objects, and real MOT17 boxes."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from support.assets import MOT17, needs
from vigil.analytics.tracker import Tracker, assign
from vigil.analytics.types import Detection
from vigil.box import Box

FPS = 5.0
PERIOD_US = int(1e6 / FPS)
T0 = 1_700_000_000_000_000


def person(x: float, y: float, score: float = 0.9, w: float = 40, h: float = 100) -> Detection:
    return Detection("person", score, Box(x, y, x + w, y + h))


def ids(tracks: list) -> dict[int, float]:
    return {t.id: (t.box.x1 + t.box.x2) / 2 for t in tracks}


def test_assignment_is_least_cost_like_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        rows, cols = (int(v) for v in rng.integers(1, 6, size=2))
        cost = rng.random((rows, cols))
        cost[rng.random((rows, cols)) < 0.2] = np.inf
        pairs = assign(cost, max_cost=10.0)
        best = (0, 0.0)
        for k in range(1, min(rows, cols) + 1):
            for chosen in itertools.combinations(range(rows), k):
                for columns in itertools.permutations(range(cols), k):
                    total = sum(cost[r, c] for r, c in zip(chosen, columns, strict=True))
                    if np.isfinite(total) and (k, -total) > (best[0], -best[1]):
                        best = (k, total)
        assert len(pairs) == best[0]
        assert sum(cost[r, c] for r, c in pairs) == pytest.approx(best[1])
    assert assign(np.array([[0.1, 0.9]]), max_cost=0.05) == []


def test_id_survives_missed_pictures_and_is_confirmed_after_hits() -> None:
    tracker = Tracker(FPS)
    seen = []
    for frame in range(30):
        found = [] if 10 <= frame < 14 else [person(100 + 12 * frame, 200)]
        tracks = tracker.update(T0 + frame * PERIOD_US, found)
        seen.append(ids(tracks))
    assert seen[0] == {} and seen[1] == {}  # 3 hits at 5 fps before a track is reported
    assert list(seen[2]) == [1]
    assert all(list(s) == [1] for s in seen[2:])  # coasted through the four missed pictures
    assert seen[-1][1] == pytest.approx(100 + 12 * 29 + 20, abs=3)


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker(FPS)
    history: dict[int, list[float]] = defaultdict(list)
    for frame in range(40):
        left_to_right = person(50 + 15 * frame, 200)
        right_to_left = person(650 - 15 * frame, 210)
        for track in tracker.update(T0 + frame * PERIOD_US, [left_to_right, right_to_left]):
            history[track.id].append((track.box.x1 + track.box.x2) / 2)
    assert sorted(history) == [1, 2]
    for xs in history.values():
        steps = np.diff(xs)
        assert np.all(steps > 0) or np.all(steps < 0), "an id jumped to the other person"


def test_classes_are_not_mixed_but_a_car_may_look_like_a_truck() -> None:
    tracker = Tracker(FPS)
    box = Box(100, 100, 300, 200)
    for frame in range(6):
        label = "car" if frame % 2 else "truck"
        tracks = tracker.update(T0 + frame * PERIOD_US, [Detection(label, 0.8, box)])
    assert [t.id for t in tracks] == [1]
    assert tracks[0].label in ("car", "truck")
    tracks = tracker.update(T0 + 6 * PERIOD_US, [Detection("person", 0.9, box)])
    assert [t.id for t in tracks] == [1]  # the person is a new, tentative track


def test_weak_detections_keep_a_track_but_never_start_one() -> None:
    tracker = Tracker(FPS, min_score=0.5)
    for frame in range(5):
        tracks = tracker.update(T0 + frame * PERIOD_US, [person(100 + 5 * frame, 100, 0.3)])
    assert tracks == []
    for frame in range(5, 10):
        tracks = tracker.update(T0 + frame * PERIOD_US, [person(100 + 5 * frame, 100, 0.9)])
    for frame in range(10, 60):  # partly hidden: only weak detections for 10 s
        tracks = tracker.update(T0 + frame * PERIOD_US, [person(100 + 5 * frame, 100, 0.3)])
    assert [t.id for t in tracks] == [1]  # the weak ones started nothing; then kept it


def test_a_track_is_dropped_after_lost_seconds() -> None:
    tracker = Tracker(FPS, lost_seconds=2.0)
    for frame in range(5):
        tracks = tracker.update(T0 + frame * PERIOD_US, [person(100 + 10 * frame, 100)])
    assert len(tracks) == 1
    for frame in range(5, 5 + 9):
        tracks = tracker.update(T0 + frame * PERIOD_US, [])
    assert len(tracks) == 1  # 9 misses at 5 fps: still coasting
    assert tracker.update(T0 + 14 * PERIOD_US, []) == []


def test_stationary_object_is_flagged_and_checked_rarely() -> None:
    tracker = Tracker(FPS, stationary_seconds=5.0, recheck_seconds=10.0)
    rng = np.random.default_rng(3)
    box = Box(400, 300, 600, 400)
    flagged_at = None
    for frame in range(40):
        jitter = rng.uniform(-3, 3, size=4)
        seen = Box(*(np.array([box.x1, box.y1, box.x2, box.y2]) + jitter))
        ts = T0 + frame * PERIOD_US
        [track] = tracker.update(ts, [Detection("car", 0.9, seen)]) or [None]
        if track is not None and track.stationary_since_us is not None and flagged_at is None:
            flagged_at = ts
            assert track.stationary_since_us == T0  # it stood still from the first picture
    assert flagged_at == T0 + 25 * PERIOD_US  # 5 s after it stopped
    last = T0 + 39 * PERIOD_US
    assert tracker.predict_boxes(last + PERIOD_US) == []  # found just now: not due
    # Detection looks elsewhere for 10 s; the car is not missed since nobody looked for it.
    elsewhere = [Box(0, 0, 100, 100)]
    for frame in range(40, 100):
        [track] = tracker.update(T0 + frame * PERIOD_US, [], searched=elsewhere)
    assert track.stationary_since_us == T0
    due = tracker.predict_boxes(T0 + 100 * PERIOD_US)
    assert len(due) == 1 and due[0].iou(box) > 0.8  # due for its re-check, where it stood
    # It drives off: matched while moving, it is no longer stationary.
    for step, frame in enumerate(range(100, 106), start=1):
        moved = Box(box.x1 + 40 * step, box.y1, box.x2 + 40 * step, box.y2)
        [track] = tracker.update(T0 + frame * PERIOD_US, [Detection("car", 0.9, moved)])
    assert track.stationary_since_us is None


def test_a_searched_but_missing_stationary_object_is_looked_for_every_picture() -> None:
    tracker = Tracker(FPS, stationary_seconds=1.0)
    box = Box(10, 10, 60, 60)
    for frame in range(10):
        tracker.update(T0 + frame * PERIOD_US, [Detection("backpack", 0.8, box)])
    assert tracker.predict_boxes(T0 + 10 * PERIOD_US) == []
    tracker.update(T0 + 10 * PERIOD_US, [], searched=[Box(0, 0, 100, 100)])
    assert len(tracker.predict_boxes(T0 + 11 * PERIOD_US)) == 1


def test_ids_are_per_tracker() -> None:
    first, second = Tracker(FPS), Tracker(FPS)
    for frame in range(3):
        a = first.update(T0 + frame * PERIOD_US, [person(0, 0), person(300, 0)])
        b = second.update(T0 + frame * PERIOD_US, [person(0, 0)])
    assert sorted(t.id for t in a) == [1, 2]
    assert [t.id for t in b] == [1]


def _mot_ground_truth(sequence: Path) -> dict[int, list[tuple[int, Box]]]:
    frames: dict[int, list[tuple[int, Box]]] = defaultdict(list)
    for row in (sequence / "gt" / "gt.txt").read_text().splitlines():
        frame, object_id, x, y, w, h, flag, cls, _visibility = row.split(",")
        if flag == "1" and cls == "1":  # scored pedestrians
            x1, y1 = float(x), float(y)
            frames[int(frame)].append((int(object_id), Box(x1, y1, x1 + float(w), y1 + float(h))))
    return frames


@needs(MOT17)
@pytest.mark.parametrize("sequence", ["MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-09-FRCNN"])
def test_mot17_ground_truth_boxes_keep_one_id_per_person(sequence: str) -> None:
    path = MOT17 / sequence
    assert path.is_dir(), f"{path}: no such MOT17 sequence in {MOT17}"
    frames = _mot_ground_truth(path)
    assert sorted(frames) == list(range(1, len(frames) + 1))  # consecutive pictures
    tracker = Tracker(FPS)  # each picture as one analysis period
    pairs: dict[int, set[int]] = defaultdict(set)  # track id -> ground-truth ids
    reported = 0
    for frame in sorted(frames):
        truth = frames[frame]
        detections = [Detection("person", 0.9, box) for _, box in truth]
        for track in tracker.update(T0 + frame * PERIOD_US, detections):
            if track.last_us != T0 + frame * PERIOD_US:
                continue
            overlaps = [track.box.iou(box) for _, box in truth]
            best = int(np.argmax(overlaps))
            assert overlaps[best] > 0.7
            pairs[track.id].add(truth[best][0])
            reported += 1
    objects = {object_id for found in frames.values() for object_id, _ in found}
    owners = defaultdict(set)
    for track_id, truth_ids in pairs.items():
        assert len(truth_ids) == 1, f"track {track_id} followed {truth_ids}"
        owners[next(iter(truth_ids))].add(track_id)
    assert all(len(tracks) == 1 for tracks in owners.values()), "a person changed id"
    assert len(owners) == len(objects)  # every person seen in every picture is followed
    assert reported >= len(objects) * (len(frames) - 2)


def test_one_bag_reported_as_backpack_and_handbag_is_one_track() -> None:
    tracker = Tracker(FPS)
    bag = Box(120, 300, 170, 365)
    for frame in range(6):
        both = [Detection("backpack", 0.55, bag), Detection("handbag", 0.52, bag)]
        tracks = tracker.update(T0 + frame * PERIOD_US, both)
    assert [t.id for t in tracks] == [1]


def test_a_confirmed_track_missed_once_takes_a_weak_detection_back() -> None:
    tracker = Tracker(FPS)
    bag = Box(120, 300, 170, 365)
    for frame in range(5):
        tracker.update(T0 + frame * PERIOD_US, [Detection("backpack", 0.7, bag)])
    tracker.update(T0 + 5 * PERIOD_US, [])
    [track] = tracker.update(T0 + 6 * PERIOD_US, [Detection("backpack", 0.35, bag)])
    assert track.id == 1 and track.last_us == T0 + 6 * PERIOD_US
