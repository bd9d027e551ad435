"""Camera tamper: covered, defocused or turned away, judged against a learned reference view.

Each analysed frame is reduced to three brightness-independent readings:

- **detail**: mean |Laplacian| over the standard deviation of a 320-px-wide grey picture.
  Dividing by the picture's own contrast makes it blind to exposure, night/day and IR
  switching (a darker picture has proportionally weaker edges), while defocus or a cover
  close to the lens removes fine edges far faster than overall contrast. Judged as the ratio
  to the reference's detail; below `detail_drop` (default 0.35, an edge-energy loss of about
  3x) the picture has lost its detail. Compression, noise and people walking past move it by
  tens of percent, not by 3x.
- **match**: the scene's coarse structure (an 80-px-wide blurred picture) is aligned to the
  reference by phase correlation (so shake and small drift are compensated), then cut into a
  4x4 grid; the match is the share of the reference's textured cells whose zero-mean
  normalised cross-correlation with the aligned picture is at least 0.5. Correlation is
  invariant to gain and offset per cell, so lighting and IR changes keep it high; people and
  vehicles cover a few cells, a turned camera or a cover changes most of them.
- **shift**: the phase-correlation offset as a share of the picture width.

Verdict per frame: a flat picture (std below `flat_std` grey levels, e.g. a lens cap, paint
or a black-out) is *covered*; lost detail with a matching structure is *defocused*; lost
detail and a lost structure is *covered* (something in front of the lens); a lost structure
(match below `min_match`) or a shift beyond `max_shift` is *moved* when the detail is intact
(a turned camera sees another real scene, as sharp as before) and *covered* when it fell below
`covered_detail` (0.6): a hand, cloth or wrap over the lens is out of focus, yet may carry
enough texture of its own (bubble wrap does) not to fall below `detail_drop`. Between
the alarm and the healthy bands (hysteresis) a frame is uncertain and changes nothing.

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

DETAIL_WIDTH = 320
STRUCTURE_WIDTH = 80
GRID = 4
CELL_MATCH = 0.5  # a cell matches when its correlation with the reference is at least this


@dataclass(frozen=True)
class TamperReading:
    """What one frame looked like against the reference (for logs and diagnosis)."""

    std: float
    detail_ratio: float
    match: float
    shift: float
    verdict: TamperReason | Literal["healthy", "uncertain", "learning"]


@dataclass
class _Reference:
    structure: np.ndarray  # float32, blurred STRUCTURE_WIDTH-wide grey
    detail: float
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
        detail_drop: float = 0.35,
        min_match: float = 0.4,
        max_shift: float = 0.12,
        covered_detail: float = 0.6,
        flat_std: float = 4.0,
    ) -> None:
        self.camera = camera
        self._hold_us = round(hold_seconds * 1e6)
        self._learn_us = round(learn_seconds * 1e6)
        self._adapt_us = adapt_seconds * 1e6
        self._relearn_us = round(relearn_seconds * 1e6)
        self._detail_drop = detail_drop
        self._min_match = min_match
        self._max_shift = max_shift
        self._covered_detail = covered_detail
        self._flat_std = flat_std
        self._reference: _Reference | None = None
        self._learning: list[tuple[np.ndarray, float]] = []
        self._learn_start_us: int | None = None
        self._last_us: int | None = None
        self._bad_since_us: int | None = None
        self._reasons: Counter[TamperReason] = Counter()
        self._good_since_us: int | None = None
        self._active: Event | None = None
        self.last_reading: TamperReading | None = None

    def update(self, ts_us: int, bgr: np.ndarray) -> list[EventUpdate]:
        """Judge one analysed frame (BGR or grey) taken at `ts_us` (UTC microseconds)."""
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        fine = _resize_width(grey, DETAIL_WIDTH)
        std = float(fine.std())
        detail = float(np.abs(cv2.Laplacian(fine, cv2.CV_32F)).mean()) / max(std, 1.0)
        structure = cv2.GaussianBlur(_resize_width(fine, STRUCTURE_WIDTH), (3, 3), 0)
        structure = structure.astype(np.float32)
        reference = self._reference
        if reference is None or reference.structure.shape != structure.shape:
            self._learn(ts_us, structure, detail, std)
            return []
        match, shift = _compare(reference, structure)
        detail_ratio = detail / max(reference.detail, 1e-6)
        verdict = self._verdict(std, detail_ratio, match, shift)
        self.last_reading = TamperReading(std, detail_ratio, match, shift, verdict)
        updates = self._debounce(ts_us, verdict)
        if verdict == "healthy" and self._active is None:
            self._adapt(ts_us, structure, detail)
        self._last_us = ts_us
        return updates

    def _verdict(
        self, std: float, detail_ratio: float, match: float, shift: float
    ) -> TamperReason | Literal["healthy", "uncertain"]:
        if std < self._flat_std:
            return "covered"
        lost_scene = match < self._min_match or shift > self._max_shift
        if detail_ratio < self._detail_drop:
            return "covered" if match < self._min_match else "defocused"
        if lost_scene:
            return "covered" if detail_ratio < self._covered_detail else "moved"
        # Hysteresis: recovering halfway is not yet healthy.
        healthy_detail = detail_ratio >= self._detail_drop * 1.4
        healthy_scene = match >= min(1.0, self._min_match + 0.15) and shift <= self._max_shift / 2
        return "healthy" if healthy_detail and healthy_scene else "uncertain"

    def _debounce(
        self, ts_us: int, verdict: TamperReason | Literal["healthy", "uncertain"]
    ) -> list[EventUpdate]:
        if self._active is None:
            if verdict == "healthy":
                self._bad_since_us = None
                self._reasons.clear()
                return []
            if verdict == "uncertain":
                return []
            if self._bad_since_us is None:
                self._bad_since_us = ts_us
            self._reasons[verdict] += 1
            if ts_us - self._bad_since_us < self._hold_us:
                return []
            reason = self._reasons.most_common(1)[0][0]
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
        return {
            "detail_ratio": round(reading.detail_ratio, 3),
            "detail_drop": self._detail_drop,
            "match": round(reading.match, 3),
            "min_match": self._min_match,
            "shift": round(reading.shift, 3),
            "max_shift": self._max_shift,
            "contrast": round(reading.std, 1),
            "flat_contrast": self._flat_std,
        }

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
        self._reasons.clear()
        return [EventUpdate("end", ended)]

    def _learn(self, ts_us: int, structure: np.ndarray, detail: float, std: float) -> None:
        if self._learning and self._learning[0][0].shape != structure.shape:
            self._learning.clear()
        if not self._learning:
            self._learn_start_us = ts_us
        self.last_reading = TamperReading(std, 1.0, 1.0, 0.0, "learning")
        self._learning.append((structure, detail))
        assert self._learn_start_us is not None
        if ts_us - self._learn_start_us < self._learn_us:
            return
        mean = np.mean([s for s, _ in self._learning], axis=0).astype(np.float32)
        detail_ref = float(np.median([d for _, d in self._learning]))
        self._reference = _Reference(mean, detail_ref, _textured_cells(mean))
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
        reference.detail = math.exp(
            (1 - rate) * math.log(reference.detail) + rate * math.log(max(detail, 1e-6))
        )
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


def _compare(reference: _Reference, structure: np.ndarray) -> tuple[float, float]:
    """(match, shift): share of textured cells that still correlate, and the global offset."""
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
    return float(matched.sum()) / float(reference.textured.sum()), shift
