"""Detector-free static-object candidates: things that arrived and stayed, whatever they are.

Two backgrounds of a small grey picture (about 120 px high) are kept:

- the **short-term** one follows the picture with a time constant of `short_seconds` (2 s):
  anything that has stopped for a few seconds is part of it;
- the **long-term** one is the scene as it was: it learns (time constant `long_seconds`,
  60 s) only where the picture agrees with it, so it follows slow lighting drift of the
  background but does not absorb a new object; where the picture disagrees it learns at a
  glacial `absorb_seconds` (default max(600 s, 10 x min_seconds)) so that a permanent change
  (a moved bench, a parked skip) eventually becomes scene and stops being reported.

A pixel is *static-new* when it differs from the long-term background by more than
`threshold` grey levels (after the frame's mean brightness is matched to the background's,
which removes exposure changes) and agrees with the short-term one. Its clock starts when it
becomes static-new and restarts whenever it stops being so or motion comes within a few
pixels: people are never perfectly still, and their moving edges keep resetting the still
parts of their bodies, while a dropped bag is dead still once its owner has gone. Regions
whose pixels have all been static-new for `min_seconds` are reported.

A region is checked for being a *ghost* before it is reported: when something that was in the
long-term background leaves (a car drives off, or someone stood there when the model started),
the revealed floor also differs from the long-term background. A real new object adds edges
along its outline; a ghost has edges in the long-term background that the current picture
lacks. Ghosts are written into the long-term background at once. A region whose pixels still
correlate with the long-term background at 0.95 or more is the same surface under other light
(a sun patch, a shadow, a local exposure change) and is not reported.

Regions smaller than `min_area` (share of the frame, 0.1%) or thinner than MIN_SIDE small
pixels are noise or a shifted edge; regions larger than `max_area` (25% of the frame) are a
lighting or scene change, not an object.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vigil.box import Box

HEIGHT = 120
MOTION_MARGIN = 2  # small pixels around motion whose still clock is reset
TEXTURE_STD = 2.0  # grey levels of pattern below which a surface counts as flat
# Small pixels: a region thinner than this is an edge that shifted (a pillar's outline under a
# slight sway or a shadow's edge), not a thing; a thing that thin is smaller than min_area.
MIN_SIDE = 3


class StaticObjectDetector:
    """Regions that became different from the long-term scene and stayed still."""

    def __init__(
        self,
        frame_width: int,
        frame_height: int,
        min_seconds: float,
        *,
        threshold: float = 20.0,
        short_seconds: float = 2.0,
        long_seconds: float = 60.0,
        absorb_seconds: float | None = None,
        min_area: float = 0.001,
        max_area: float = 0.25,
    ) -> None:
        if frame_width <= 0 or frame_height <= 0:
            raise ValueError(f"frame size must be positive, got {frame_width}x{frame_height}")
        if min_seconds <= 0:
            raise ValueError(f"min_seconds must be positive, got {min_seconds}")
        small_h = min(HEIGHT, frame_height)
        self.size = (max(1, round(frame_width * small_h / frame_height)), small_h)
        self._scale = (frame_width / self.size[0], frame_height / self.size[1])
        self._min_us = min_seconds * 1e6
        self._threshold = threshold
        self._short_us = short_seconds * 1e6
        self._long_us = long_seconds * 1e6
        absorb = absorb_seconds if absorb_seconds is not None else max(600.0, 10 * min_seconds)
        self._absorb_us = absorb * 1e6
        pixels = self.size[0] * self.size[1]
        self._min_pixels = max(4, round(min_area * pixels))
        self._max_pixels = max_area * pixels
        self._margin = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * MOTION_MARGIN + 1, 2 * MOTION_MARGIN + 1)
        )
        self._short: np.ndarray | None = None
        self._long: np.ndarray | None = None
        self._since_us: np.ndarray | None = None  # per pixel; +inf when not static-new
        self._last_us = 0

    def update(self, ts_us: int, frame: np.ndarray) -> list[Box]:
        """Feed one analysed frame; return the regions static-new for at least min_seconds."""
        picture = self._small_grey(frame)
        if self._long is None or self._short is None or self._since_us is None:
            self._long = picture.copy()
            self._short = picture.copy()
            self._since_us = np.full(picture.shape, np.inf)
            self._last_us = ts_us
            return []
        elapsed = max(0, ts_us - self._last_us)
        self._last_us = ts_us
        long, short = self._long, self._short
        mean = float(picture.mean())
        if mean > 1.0:
            picture *= float(long.mean()) / mean
        new = cv2.absdiff(picture, long) > self._threshold
        moving = cv2.absdiff(picture, short) > self._threshold
        near_motion = cv2.dilate(moving.astype(np.uint8), self._margin) > 0
        static_new = new & ~near_motion
        since = self._since_us
        since[~static_new] = np.inf
        since[static_new & np.isinf(since)] = ts_us
        self._learn(picture, elapsed, new)
        return self._regions(ts_us, picture)

    def reset(self) -> None:
        """Forget the scene: the next picture starts a new one (after a tamper or a re-aim,
        whatever differs from the old scene is not something left in the new one)."""
        self._long = self._short = self._since_us = None

    def _learn(self, picture: np.ndarray, elapsed: int, new: np.ndarray) -> None:
        assert self._long is not None and self._short is not None
        short_rate = np.float32(1 - math.exp(-elapsed / self._short_us))
        self._short += short_rate * (picture - self._short)
        scene_rate = 1 - math.exp(-elapsed / self._long_us)
        absorb_rate = 1 - math.exp(-elapsed / self._absorb_us)
        rate = np.where(new, absorb_rate, scene_rate).astype(np.float32)
        self._long += rate * (picture - self._long)

    def _regions(self, ts_us: int, picture: np.ndarray) -> list[Box]:
        assert self._long is not None and self._since_us is not None
        mature = (ts_us - self._since_us >= self._min_us).astype(np.uint8)
        if not mature.any():
            return []
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mature, connectivity=8)
        boxes = []
        sx, sy = self._scale
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            if area < self._min_pixels or area > self._max_pixels or min(w, h) < MIN_SIDE:
                continue
            region = labels == label
            if self._is_ghost(region, picture):
                self._long[region] = picture[region]
                self._since_us[region] = np.inf
                continue
            if _same_texture(picture[region], self._long[region]):
                continue  # a patch of sun or shade, or a local exposure change: not a thing
            boxes.append(Box(x * sx, y * sy, (x + w) * sx, (y + h) * sy))
        return boxes

    def _is_ghost(self, region: np.ndarray, picture: np.ndarray) -> bool:
        """True when the region's outline has fewer edges now than in the long-term scene."""
        assert self._long is not None
        band = cv2.dilate(region.astype(np.uint8), self._margin) > 0
        band &= ~(cv2.erode(region.astype(np.uint8), self._margin) > 0)
        return _edge_energy(picture, band) < _edge_energy(self._long, band)

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)


def _same_texture(now: np.ndarray, scene: np.ndarray) -> bool:
    """Whether the pixels are the scene's texture under other light (correlation >= 0.95).

    Light and shade scale a surface's brightness but keep its pattern, so the pattern still
    correlates almost perfectly; an object replaces the pattern. Flat surfaces carry no
    pattern to judge and are never called lighting.
    """
    now = now - now.mean()
    scene = scene - scene.mean()
    if now.std() < TEXTURE_STD or scene.std() < TEXTURE_STD:
        return False
    return float((now * scene).sum() / np.sqrt((now * now).sum() * (scene * scene).sum())) >= 0.95


def _edge_energy(picture: np.ndarray, where: np.ndarray) -> float:
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.sqrt(gx * gx + gy * gy)[where].mean()) if where.any() else 0.0
