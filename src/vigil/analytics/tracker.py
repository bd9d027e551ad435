"""Follows objects from one analysed picture to the next within one camera (ByteTrack style).

- Each object has a constant-velocity Kalman filter on its box centre and size. Noise scales
  with the box's size, as in SORT/DeepSORT, and time is counted in analysis periods, so a
  dropped picture is a longer prediction rather than a lost object.
- Detections are matched to predicted boxes by IoU with a minimum-cost assignment, in two
  stages: confident detections (score ≥ min_score) against every track, then the weaker ones
  against the confirmed tracks still unmatched. Weak detections keep a partly hidden object's
  track alive but never start one. One object reported under two classes of a family keeps
  only its best detection. Classes must agree, except within families a detector confuses from
  one picture to the next (car/truck/bus, motorcycle/bicycle, the bags); a track's label is
  the class with the most accumulated score.
- At a low analysis rate a fast object may no longer overlap its prediction; a detection
  within about its size of the prediction is matched when nothing overlaps.
- A track is reported once it was matched `max(2, ceil(fps/2))` times (as Frigate) and
  dropped after `fps x lost_seconds` pictures where it was looked for and not found, or
  `lost_seconds` without a match (plus `recheck_seconds` for a stationary one).
- A track whose centre stays within a quarter of its size for `stationary_seconds` is
  *stationary* from the moment it stopped; it moves again when its centre goes half its size
  away. Detection looks for stationary objects only every
  `recheck_seconds` (or at once when motion touches them, since the caller searches there
  anyway), which is what lets a camera full of parked cars stay cheap.

Ids count from 1 in each Tracker, i.e. per camera and per process: they mean nothing elsewhere
and are never stored with anything that outlives the object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from vigil.analytics.types import Detection, Track
from vigil.box import Box
from vigil.coco import BAGS

# Classes a detector swaps for one another from one picture to the next.
FAMILIES = (
    frozenset({"car", "truck", "bus"}),
    frozenset({"motorcycle", "bicycle"}),
    frozenset(BAGS),
)
MATCH_IOU = 0.2  # first stage (ByteTrack: 1 - 0.8)
WEAK_MATCH_IOU = 0.5  # second stage, weak detections: they must overlap well
NEAR_COST = 1.5  # costs above 1 are distance matches, always worse than any overlap
SEARCHED_SHARE = 0.5  # a track was looked for when this share of its box was searched
# Of the box's mean side: how far the centre may wander and still be still (a small object's
# box changes width from one detection to the next), and how far a stationary one must go to
# be moving again (a passer-by hiding half of a parked car shifts its box less than that).
STILL_SHARE = 0.25
LEAVE_SHARE = 0.5
DUPLICATE_IOU = 0.7  # one object reported under two classes of a family (backpack, handbag)
POSITION_NOISE = 1 / 20  # of the box's size, per analysis period (DeepSORT's weights)
VELOCITY_NOISE = 1 / 160
FORBIDDEN = 1e9


def assign(cost: np.ndarray, max_cost: float) -> list[tuple[int, int]]:
    """(row, column) pairs of least total cost, leaving out pairs costing more than max_cost.

    Infinite costs are forbidden pairs; rows and columns may differ in number. A camera has
    a few dozen objects at most, so a small Hungarian method replaces scipy's.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return []
    matrix = np.where(np.isfinite(cost), cost, FORBIDDEN).astype(np.float64)
    transposed = rows > cols
    pairs = _hungarian(matrix.T if transposed else matrix)
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted((r, c) for r, c in pairs if cost[r, c] <= max_cost)


def _hungarian(cost: np.ndarray) -> list[tuple[int, int]]:
    """Shortest augmenting paths with potentials; rows ≤ columns; index 0 is a sentinel."""
    n, m = cost.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: the row (1-based) holding column j
    way = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        j0 = 0
        min_reduced = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < min_reduced[1:])
            min_reduced[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, min_reduced[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            taken = np.flatnonzero(used)
            u[owner[taken]] += delta
            v[taken] -= delta
            min_reduced[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return [(int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j]]


def compatible(a: str, b: str) -> bool:
    return a == b or any(a in family and b in family for family in FAMILIES)


class BoxFilter:
    """Constant-velocity Kalman filter on (cx, cy, w, h); time in analysis periods."""

    def __init__(self, box: Box) -> None:
        self.x = np.zeros(8)
        self.x[:4] = _measure(box)
        size = _size(box)
        std = np.r_[[2 * POSITION_NOISE * size] * 4, [10 * VELOCITY_NOISE * size] * 4]
        self.p = np.diag(std**2)

    def predicted(self, periods: float) -> np.ndarray:
        return self.x[:4] + periods * self.x[4:]

    def predict(self, periods: float) -> None:
        if periods <= 0:
            return
        f = np.eye(8)
        f[:4, 4:] = periods * np.eye(4)
        size = max(1.0, float(max(self.x[2], self.x[3])))
        q = np.r_[[POSITION_NOISE * size] * 4, [VELOCITY_NOISE * size] * 4] ** 2
        self.x = f @ self.x
        self.p = f @ self.p @ f.T + np.diag(q * periods)

    def correct(self, box: Box) -> None:
        z = _measure(box)
        r = np.diag([(POSITION_NOISE * _size(box)) ** 2] * 4)
        h = np.eye(4, 8)
        s = h @ self.p @ h.T + r
        gain = self.p @ h.T @ np.linalg.inv(s)
        self.x = self.x + gain @ (z - h @ self.x)
        self.p = (np.eye(8) - gain @ h) @ self.p

    def stop(self) -> None:
        """The object stands still: keep its box from drifting on remembered velocity."""
        self.x[4:] = 0.0

    def box(self, periods: float = 0.0) -> Box:
        cx, cy, w, h = (float(v) for v in self.predicted(periods))
        w, h = max(w, 1.0), max(h, 1.0)
        return Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _measure(box: Box) -> np.ndarray:
    return np.array([(box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, box.width, box.height])


def _size(box: Box) -> float:
    return max(1.0, box.width, box.height)


def _centre(box: Box) -> tuple[float, float]:
    return ((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2)


def _share_inside(box: Box, regions: Sequence[Box]) -> float:
    if box.area <= 0:
        return 0.0
    best = 0.0
    for region in regions:
        w = min(box.x2, region.x2) - max(box.x1, region.x1)
        h = min(box.y2, region.y2) - max(box.y1, region.y1)
        if w > 0 and h > 0:
            best = max(best, w * h / box.area)
    return best


@dataclass
class _State:
    track: Track
    filter: BoxFilter
    searched_us: int  # when detection last looked at it
    anchor: Box  # where it was seen when it last moved
    anchor_us: int
    misses: int = 0
    votes: dict[str, float] = field(default_factory=dict)

    @property
    def stationary(self) -> bool:
        return self.track.stationary_since_us is not None


class Tracker:
    """One camera's objects. Feed every analysed picture's detections, in time order."""

    def __init__(
        self,
        fps: float,
        *,
        min_score: float = 0.5,
        stationary_seconds: float = 5.0,
        recheck_seconds: float = 10.0,
        lost_seconds: float = 5.0,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"the analysis rate must be positive, got {fps} fps")
        self.period_us = 1e6 / fps
        self.min_score = min_score
        self.confirm_hits = max(2, math.ceil(fps / 2))
        self.max_misses = max(2, round(fps * lost_seconds))
        self.stationary_us = int(stationary_seconds * 1e6)
        self.recheck_us = int(recheck_seconds * 1e6)
        self.lost_us = int(lost_seconds * 1e6)
        self._states: list[_State] = []
        self._next_id = 1
        self._last_us: int | None = None

    def predict_boxes(self, ts_us: int | None = None) -> list[Box]:
        """Where the objects detection should look for are expected at ts_us.

        That is every track except stationary ones found at their last check, which are due
        again only every recheck_seconds. ts_us defaults to one analysis period after the
        last update.
        """
        if ts_us is None:
            ts_us = int((self._last_us or 0) + self.period_us)
        periods = self._periods(ts_us)
        return [
            s.filter.box(0.0 if s.stationary else periods)
            for s in self._states
            if self._due(s, ts_us)
        ]

    def update(
        self, ts_us: int, detections: list[Detection], searched: Sequence[Box] | None = None
    ) -> list[Track]:
        """Match one picture's detections; return the confirmed tracks (copies).

        `searched` are the regions detection ran on (None: the whole picture). A track outside
        them was not looked for, so not finding it is no evidence that it has gone.
        """
        periods = self._periods(ts_us)
        self._last_us = max(ts_us, self._last_us or ts_us)  # never run the filters backwards
        for state in self._states:
            if state.stationary:
                state.filter.stop()  # it stands until a detection shows it elsewhere
            state.filter.predict(periods)
        detections = _one_per_object(detections)
        strong = [d for d in detections if d.score >= self.min_score]
        weak = [d for d in detections if d.score < self.min_score]
        everyone = list(range(len(self._states)))
        matched, unmatched, fresh = self._match(everyone, strong, MATCH_IOU, near=True)
        # Unlike ByteTrack, a confirmed track just missed may also take a weak detection: a
        # still object (a bag on the floor) often scores low, and its box does not drift.
        confirmed = [i for i in unmatched if self._states[i].track.hits >= self.confirm_hits]
        matched_weak, _, _ = self._match(confirmed, weak, WEAK_MATCH_IOU, near=False)
        for i, detection in matched + matched_weak:
            self._hit(self._states[i], ts_us, detection)
        found = {i for i, _ in matched + matched_weak}
        kept = []
        for i, state in enumerate(self._states):
            if i in found or self._still_worth_following(state, ts_us, searched):
                kept.append(state)
        self._states = kept
        for detection in fresh:
            self._start(ts_us, detection)
        return [replace(s.track) for s in self._states if s.track.hits >= self.confirm_hits]

    def _match(
        self, rows: list[int], detections: list[Detection], min_iou: float, near: bool
    ) -> tuple[list[tuple[int, Detection]], list[int], list[Detection]]:
        cost = np.full((len(rows), len(detections)), np.inf)
        for r, i in enumerate(rows):
            state = self._states[i]
            predicted = state.filter.box()
            for c, detection in enumerate(detections):
                if not compatible(state.track.label, detection.label):
                    continue
                overlap = predicted.iou(detection.box)
                if overlap >= min_iou:
                    cost[r, c] = 1.0 - overlap
                elif near:
                    cost[r, c] = _near_cost(predicted, detection.box)
        pairs = assign(cost, max_cost=NEAR_COST + 1.0 if near else 1.0 - min_iou)
        paired_rows = {r for r, _ in pairs}
        paired_cols = {c for _, c in pairs}
        return (
            [(rows[r], detections[c]) for r, c in pairs],
            [i for r, i in enumerate(rows) if r not in paired_rows],
            [d for c, d in enumerate(detections) if c not in paired_cols],
        )

    def _hit(self, state: _State, ts_us: int, detection: Detection) -> None:
        state.filter.correct(detection.box)
        state.misses = 0
        state.searched_us = ts_us
        state.votes[detection.label] = state.votes.get(detection.label, 0.0) + detection.score
        track = state.track
        track.label = max(state.votes, key=state.votes.__getitem__)
        track.box = state.filter.box()
        track.score = detection.score
        track.last_us = ts_us
        track.hits += 1
        self._judge_stillness(state, ts_us, detection.box)

    def _judge_stillness(self, state: _State, ts_us: int, seen: Box) -> None:
        """Hysteresis: still while the centre stays within STILL_SHARE of the box's size of
        where it stopped; moving again only beyond LEAVE_SHARE."""
        (cx, cy), (ax, ay) = _centre(seen), _centre(state.anchor)
        share = LEAVE_SHARE if state.stationary else STILL_SHARE
        moved = math.hypot(cx - ax, cy - ay) > share * (seen.width + seen.height) / 2
        if moved:
            state.anchor, state.anchor_us = seen, ts_us
            state.track.stationary_since_us = None
        elif not state.stationary and ts_us - state.anchor_us >= self.stationary_us:
            state.track.stationary_since_us = state.anchor_us

    def _still_worth_following(
        self, state: _State, ts_us: int, searched: Sequence[Box] | None
    ) -> bool:
        """After a picture that did not match the track."""
        looked = searched is None or _share_inside(state.filter.box(), searched) >= SEARCHED_SHARE
        if looked:
            state.searched_us = ts_us
            state.misses += 1
            if state.track.hits < self.confirm_hits or state.misses >= self.max_misses:
                return False  # a tentative track must be seen again at once (ByteTrack)
        patience = self.lost_us + (self.recheck_us if state.stationary else 0)
        return ts_us - state.track.last_us <= patience

    def _start(self, ts_us: int, detection: Detection) -> None:
        track = Track(
            id=self._next_id, label=detection.label, box=detection.box, score=detection.score,
            first_us=ts_us, last_us=ts_us,
        )  # fmt: skip
        self._next_id += 1
        state = _State(
            track=track, filter=BoxFilter(detection.box), searched_us=ts_us,
            anchor=detection.box, anchor_us=ts_us, votes={detection.label: detection.score},
        )  # fmt: skip
        self._states.append(state)

    def _due(self, state: _State, ts_us: int) -> bool:
        if not state.stationary or state.misses:
            return True
        return ts_us - state.searched_us >= self.recheck_us

    def _periods(self, ts_us: int) -> float:
        """Analysis periods from the last update to ts_us: what the filters predict across."""
        return 0.0 if self._last_us is None else max(0, ts_us - self._last_us) / self.period_us


def _one_per_object(detections: list[Detection]) -> list[Detection]:
    """The best of detections that overlap almost entirely within a class family.

    Detectors suppress overlapping boxes per class only, so one bag may come as a backpack
    and a handbag; two tracks for it would make two of everything downstream.
    """
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if not any(
            k.label != detection.label
            and compatible(k.label, detection.label)
            and k.box.iou(detection.box) >= DUPLICATE_IOU
            for k in kept
        ):
            kept.append(detection)
    return kept


def _near_cost(predicted: Box, seen: Box) -> float:
    """A cost in (NEAR_COST, NEAR_COST + 1] for a similar-sized box within the prediction's size.

    Infinite otherwise.
    """
    size = _size(predicted)
    ratio = _size(seen) / size
    if not 0.5 <= ratio <= 2.0:
        return math.inf
    (px, py), (sx, sy) = _centre(predicted), _centre(seen)
    distance = math.hypot(px - sx, py - sy) / size
    return NEAR_COST + distance if distance <= 1.0 else math.inf
