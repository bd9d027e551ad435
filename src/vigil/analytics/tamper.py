"""Camera tamper: covered, defocused or turned away, judged against a learned reference view.

Each analysed frame is reduced to three brightness-independent readings:

- **detail**: mean |Laplacian| over the standard deviation of the grey picture at its own
  resolution (at most DETAIL_WIDTH wide: the analysis picture). Dividing by the picture's own
  contrast makes it blind to exposure, night/day and IR switching (a darker picture has
  proportionally weaker edges), while defocus or a cover close to the lens removes fine edges
  far faster than overall contrast. It is measured at full analysis resolution because a
  moderate defocus (every edge soft, a blur of about 0.2% of the width) only removes the
  finest edges: on the development set it leaves 0.16-0.57 of the detail there, but 0.4-0.8 at
  a quarter of the resolution. Judged as the ratio to the reference's detail against a limit
  set by the scene itself: the reference keeps the spread of its own detail (people walking
  close to the camera move it by tens of percent, an empty corridor by a few), and detail is
  lost below exp(-(margin + SPREAD_SIGMAS x spread)), with margin ln(1/0.7): about 0.6 for a
  quiet scene, lower for a busy one, never below `min_detail_limit` (0.25).
- **match**: the scene's coarse structure (an 80-px-wide blurred picture) is aligned to the
  reference by phase correlation (so shake and small drift are compensated), then cut into a
  4x4 grid; the match is the share of the reference's textured cells whose zero-mean
  normalised cross-correlation with the aligned picture is at least 0.5. Correlation is
  invariant to gain and offset per cell, so lighting and IR changes keep it high; people and
  vehicles cover a few cells, a turned camera or a cover changes most of them. Cells where
  the motion detector saw movement are left out: a crowd or heavy traffic hides the fixed
  background, which is what "moved" is about; when fewer than a third of the textured cells
  are still, the structure is unknown and the frame is uncertain rather than moved.
- **shift**: the phase-correlation offset as a share of the picture width.

Verdict per frame: a flat picture (std below `flat_std` grey levels, e.g. a lens cap, paint
or a black-out) is *covered*. Lost detail is *defocused* when the coarse structure still
matches as well as a healthy view's does (a defocus keeps the structure everywhere, moving or
not) and *covered* otherwise: a hand, cloth or wrap in front of the lens is out of focus too,
but hides the structure. A lost structure of the still cells (match below `min_match`) or a
shift beyond `max_shift`, with the detail intact, is *moved*: a turned camera sees another
real scene, as sharp as before. Between the alarm and the healthy bands (hysteresis) a frame
is uncertain and changes nothing.

A condition must hold for `hold_seconds` (default 4 s) before the event starts (its start is
backdated to the first bad frame) and the picture must be healthy for `hold_seconds` before it
ends: shake, a bus passing close to the lens or an auto-focus hunt last less than that. The
reference is the mean of the first `learn_seconds` and then follows the scene slowly (time
constant `adapt_seconds`) while it is healthy, so parked cars and seasons become part of it.
A camera that stays *moved* for `relearn_seconds` has been re-aimed on purpose or must be
re-aimed anyway: the new view becomes the reference and the event ends.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from vigil.events.ids import uuid7
from vigil.events.model import Event, EventUpdate

log = logging.getLogger(__name__)

TamperReason = Literal["covered", "defocused", "moved"]

DETAIL_WIDTH = 640
# The detail limit, from the reference's own spread of log detail (see above).
DETAIL_MARGIN = math.log(1 / 0.7)
SPREAD_SIGMAS = 3.0
MIN_SPREAD = 0.05
MOVING_CELL = 0.1  # a cell is foreground when this share of it moved
MIN_STILL = 0.5  # share of the textured cells that must be still to judge the structure
STRUCTURE_WIDTH = 80
GRID = 4
CELL_MATCH = 0.5  # a cell matches when its correlation with the reference is at least this


@dataclass(frozen=True)
class TamperReading:
    """What one frame looked like against the reference (for logs and diagnosis)."""

    std: float
    detail_ratio: float
    detail_limit: float
    match: float  # of every textured cell
    still_match: float | None  # of the still ones; None: too few still to judge
    shift: float
    verdict: TamperReason | Literal["healthy", "uncertain", "learning"]


@dataclass
class _Reference:
    structure: np.ndarray  # float32, blurred STRUCTURE_WIDTH-wide grey
    detail: float
    spread: float  # standard deviation of log(detail) while healthy
    textured: np.ndarray  # bool per grid cell: worth comparing


class TamperDetector:
    """Debounced tamper events for one camera."""

    def __init__(
        self,
        camera: str,
        *,
        hold_seconds: float = 4.0,
        learn_seconds: float = 2.0,
        adapt_seconds: float = 300.0,
        relearn_seconds: float = 600.0,
        min_detail_limit: float = 0.25,
        min_match: float = 0.4,
        max_shift: float = 0.12,
        flat_std: float = 4.0,
    ) -> None:
        self.camera = camera
        self._hold_us = round(hold_seconds * 1e6)
        self._learn_us = round(learn_seconds * 1e6)
        self._adapt_us = adapt_seconds * 1e6
        self._relearn_us = round(relearn_seconds * 1e6)
        self._min_detail_limit = min_detail_limit
        self._min_match = min_match
        self._max_shift = max_shift
        self._flat_std = flat_std
        self._reference: _Reference | None = None
        self._learning: list[tuple[np.ndarray, float]] = []
        self._learn_start_us: int | None = None
        self._last_us: int | None = None
        self._bad_since_us: int | None = None
        self._bad: list[tuple[int, TamperReason]] = []  # since _bad_since_us
        self._good_since_us: int | None = None
        self._active: Event | None = None
        self.last_reading: TamperReading | None = None

    def update(
        self, ts_us: int, bgr: np.ndarray, moving: np.ndarray | None = None
    ) -> list[EventUpdate]:
        """Judge one analysed frame (BGR or grey) taken at `ts_us` (UTC microseconds).
        `moving`: the motion detector's mask for it (any size, non-zero = moving)."""
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        fine = _resize_width(grey, DETAIL_WIDTH) if grey.shape[1] > DETAIL_WIDTH else grey
        std = float(fine.std())
        detail = float(np.abs(cv2.Laplacian(fine, cv2.CV_32F)).mean()) / max(std, 1.0)
        structure = cv2.GaussianBlur(_resize_width(fine, STRUCTURE_WIDTH), (3, 3), 0)
        structure = structure.astype(np.float32)
        reference = self._reference
        if reference is None or reference.structure.shape != structure.shape:
            self._learn(ts_us, structure, detail, std)
            return []
        still = _still_cells(moving)
        match, still_match, shift = _compare(reference, structure, still)
        detail_ratio = detail / max(reference.detail, 1e-6)
        limit = max(
            self._min_detail_limit, math.exp(-(DETAIL_MARGIN + SPREAD_SIGMAS * reference.spread))
        )
        verdict = self._verdict(std, detail_ratio, limit, match, still_match, shift)
        self.last_reading = TamperReading(
            std, detail_ratio, limit, match, still_match, shift, verdict
        )
        updates = self._debounce(ts_us, verdict)
        if verdict == "healthy" and self._active is None:
            self._adapt(ts_us, structure, detail)
        self._last_us = ts_us
        return updates

    def _verdict(
        self,
        std: float,
        detail_ratio: float,
        limit: float,
        match: float,
        still_match: float | None,
        shift: float,
    ) -> TamperReason | Literal["healthy", "uncertain"]:
        if std < self._flat_std:
            return "covered"
        # A defocused picture keeps its coarse structure everywhere, moving or not; something
        # in front of the lens does not.
        healthy_match = min(1.0, self._min_match + 0.15)
        if detail_ratio < limit:
            return "defocused" if match >= healthy_match else "covered"
        if still_match is None:
            return "uncertain"
        if still_match < self._min_match or shift > self._max_shift:
            return "moved"
        # Hysteresis: recovering halfway (in log detail) is not yet healthy.
        healthy_detail = detail_ratio >= math.sqrt(limit)
        healthy_scene = still_match >= healthy_match and shift <= self._max_shift / 2
        return "healthy" if healthy_detail and healthy_scene else "uncertain"

    def _debounce(
        self, ts_us: int, verdict: TamperReason | Literal["healthy", "uncertain"]
    ) -> list[EventUpdate]:
        if self._active is None:
            if verdict == "healthy":
                self._bad_since_us = None
                self._bad.clear()
                return []
            if verdict == "uncertain":
                return []
            if self._bad_since_us is None:
                self._bad_since_us = ts_us
            self._bad.append((ts_us, verdict))
            if ts_us - self._bad_since_us < self._hold_us:
                return []
            # What the camera has become, not how it got there: a swing reads as covered while
            # it lasts, then as moved.
            recent = [v for t, v in self._bad if t >= ts_us - self._hold_us // 2]
            reason = Counter(recent).most_common(1)[0][0]
            self._active = Event(
                id=uuid7(self._bad_since_us // 1000),
                camera=self.camera,
                type="tamper",
                start_us=self._bad_since_us,
                attributes={"reason": reason, **self._evidence()},
            )
            self._good_since_us = None
            log.warning(
                "camera %s tampered: %s",
                self.camera,
                reason,
                extra={"camera": self.camera, "reason": reason, "event": self._active.id},
            )
            return [EventUpdate("new", self._active)]
        if verdict != "healthy":
            self._good_since_us = None
            if (
                self._active.attributes["reason"] == "moved"
                and ts_us - self._active.start_us >= self._relearn_us
            ):
                log.warning(
                    "camera %s stayed moved: its current view is the new reference",
                    self.camera,
                    extra={"camera": self.camera, "event": self._active.id},
                )
                self._reference = None
                self._learning.clear()
                return self._end(ts_us)
            return []
        if self._good_since_us is None:
            self._good_since_us = ts_us
        if ts_us - self._good_since_us < self._hold_us:
            return []
        return self._end(self._good_since_us)

    def _evidence(self) -> dict[str, float]:
        """The last frame's readings beside the thresholds they were judged against."""
        reading = self.last_reading
        if reading is None:
            return {}
        evidence = {
            "detail_ratio": round(reading.detail_ratio, 3),
            "detail_limit": round(reading.detail_limit, 3),
            "min_match": self._min_match,
            "shift": round(reading.shift, 3),
            "max_shift": self._max_shift,
            "contrast": round(reading.std, 1),
            "flat_contrast": self._flat_std,
        }
        if reading.still_match is not None:
            evidence["match"] = round(reading.still_match, 3)
        return evidence

    @property
    def disturbed(self) -> bool:
        """The view is not the learnt scene: a tamper is open, or this frame judged covered,
        defocused or moved (a swing, a cover, a spray before it has lasted `hold_seconds`)."""
        reading = self.last_reading
        bad = reading is not None and reading.verdict in ("covered", "defocused", "moved")
        return self._active is not None or bad

    def close(self, ts_us: int) -> list[EventUpdate]:
        """End an open tamper event: the analysis stops (shutdown)."""
        return self._end(ts_us) if self._active is not None else []

    def _end(self, end_us: int) -> list[EventUpdate]:
        assert self._active is not None
        ended = replace(self._active, end_us=end_us)
        log.info(
            "camera %s no longer tampered",
            self.camera,
            extra={"camera": self.camera, "event": ended.id},
        )
        self._active = None
        self._bad_since_us = None
        self._good_since_us = None
        self._bad.clear()
        return [EventUpdate("end", ended)]

    def _learn(self, ts_us: int, structure: np.ndarray, detail: float, std: float) -> None:
        if self._learning and self._learning[0][0].shape != structure.shape:
            self._learning.clear()
        if not self._learning:
            self._learn_start_us = ts_us
        self.last_reading = TamperReading(
            std, 1.0, self._min_detail_limit, 1.0, 1.0, 0.0, "learning"
        )
        self._learning.append((structure, detail))
        assert self._learn_start_us is not None
        if ts_us - self._learn_start_us < self._learn_us:
            return
        mean = np.mean([s for s, _ in self._learning], axis=0).astype(np.float32)
        logs = np.log(np.maximum([d for _, d in self._learning], 1e-6))
        detail_ref = float(np.exp(np.median(logs)))
        spread = max(MIN_SPREAD, float(logs.std()))
        self._reference = _Reference(mean, detail_ref, spread, _textured_cells(mean))
        self._learning.clear()
        self._last_us = ts_us
        log.info("camera %s: tamper reference learnt", self.camera, extra={"camera": self.camera})

    def _adapt(self, ts_us: int, structure: np.ndarray, detail: float) -> None:
        reference = self._reference
        assert reference is not None
        elapsed = ts_us - (self._last_us if self._last_us is not None else ts_us)
        rate = min(1.0, max(0.0, elapsed) / self._adapt_us)
        if rate <= 0.0:
            return
        reference.structure += np.float32(rate) * (structure - reference.structure)
        deviation = math.log(max(detail, 1e-6)) - math.log(reference.detail)
        reference.detail = math.exp(math.log(reference.detail) + rate * deviation)
        variance = reference.spread**2 + rate * (deviation**2 - reference.spread**2)
        reference.spread = max(MIN_SPREAD, math.sqrt(variance))
        reference.textured = _textured_cells(reference.structure)


def _resize_width(picture: np.ndarray, width: int) -> np.ndarray:
    height = max(1, round(picture.shape[0] * width / picture.shape[1]))
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)


def _cells(picture: np.ndarray) -> np.ndarray:
    """The picture cut into GRID x GRID cells: shape (GRID*GRID, cell pixels)."""
    h, w = (picture.shape[0] // GRID) * GRID, (picture.shape[1] // GRID) * GRID
    cells = picture[:h, :w].reshape(GRID, h // GRID, GRID, w // GRID).swapaxes(1, 2)
    return cells.reshape(GRID * GRID, -1)


def _textured_cells(structure: np.ndarray) -> np.ndarray:
    """Cells with enough texture to judge (a blank wall or sky correlates with nothing)."""
    textured = _cells(structure).std(axis=1) >= 3.0
    if textured.sum() < GRID:
        textured[:] = True
    return textured


def _still_cells(moving: np.ndarray | None) -> np.ndarray | None:
    """Bool per grid cell: less than MOVING_CELL of it moved (None: no motion known)."""
    if moving is None:
        return None
    share = cv2.resize((moving > 0).astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return share.reshape(-1) < MOVING_CELL


def _compare(
    reference: _Reference, structure: np.ndarray, still: np.ndarray | None
) -> tuple[float, float | None, float]:
    """(match, still match, shift): the shares of the textured cells and of the still textured
    cells that still correlate (None when too few are still), and the global offset."""
    window = cv2.createHanningWindow(structure.shape[::-1], cv2.CV_32F)
    # Copies: OpenCV 4.x applies the window to its inputs in place.
    (dx, dy), _ = cv2.phaseCorrelate(reference.structure.copy(), structure.copy(), window)
    height, width = structure.shape
    ix, iy = round(dx), round(dy)
    if abs(ix) > width // 2 or abs(iy) > height // 2:
        # No plausible alignment: compare in place and let the cells decide.
        ix = iy = 0
    shift = math.hypot(ix, iy) / width
    aligned = np.full_like(structure, np.nan)
    # Move the picture back by the offset; what falls outside is unknown (NaN).
    src = structure[max(0, iy) : height + min(0, iy), max(0, ix) : width + min(0, ix)]
    aligned[max(0, -iy) : height + min(0, -iy), max(0, -ix) : width + min(0, -ix)] = src
    a = _cells(aligned)
    b = _cells(reference.structure)
    known = ~np.isnan(a)
    counts = known.sum(axis=1)
    a = np.where(known, a, 0.0)
    b = np.where(known, b, 0.0)
    n = np.maximum(counts, 1)
    a_mean = a.sum(axis=1, keepdims=True) / n[:, None]
    b_mean = b.sum(axis=1, keepdims=True) / n[:, None]
    a0 = np.where(known, a - a_mean, 0.0)
    b0 = np.where(known, b - b_mean, 0.0)
    denominator = np.sqrt((a0 * a0).sum(axis=1) * (b0 * b0).sum(axis=1))
    # A cell that went flat (covered) or is mostly outside the overlap does not match.
    zncc = np.where(denominator > 1e-3, (a0 * b0).sum(axis=1) / np.maximum(denominator, 1e-3), 0)
    usable = counts >= a.shape[1] // 2
    matched = (zncc >= CELL_MATCH) & usable & reference.textured
    match = float(matched.sum()) / float(reference.textured.sum())
    if still is None:
        return match, match, shift
    judged = reference.textured & still
    if judged.sum() < MIN_STILL * reference.textured.sum():
        return match, None, shift
    return match, float((matched & judged).sum()) / float(judged.sum()), shift
