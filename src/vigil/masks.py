"""Privacy masks: polygons of a camera's picture (normalised 0..1 coordinates) filled with
solid black in every picture a person can see (live view, playback, snapshots, exports) and in
every picture analysis looks at, so nothing inside them is seen or analysed.

Solid fill, never blur. The pixel mask of each picture size is made once and kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BLACK_Y, NEUTRAL_UV = 16, 128  # solid black in limited-range YUV


class PrivacyMasks:
    def __init__(self, polygons: Sequence[Sequence[tuple[float, float]]]) -> None:
        self.polygons = [list(polygon) for polygon in polygons]
        self._pixels: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def __bool__(self) -> bool:
        return bool(self.polygons)

    def pixels(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """The covered pixels of a width x height picture, and of its half-size chroma."""
        if (width, height) not in self._pixels:
            canvas = np.zeros((height, width), np.uint8)
            for polygon in self.polygons:
                points = np.array([[x * width, y * height] for x, y in polygon], np.float32)
                cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
            covered = canvas.astype(bool)
            even = covered[: height - height % 2, : width - width % 2]
            chroma = even.reshape(height // 2, 2, width // 2, 2).any(axis=(1, 3))
            self._pixels[(width, height)] = (covered, chroma)
        return self._pixels[(width, height)]

    def fill_bgr(self, picture: np.ndarray) -> None:
        """Black over the masks, in place, in a BGR picture."""
        if self.polygons:
            height, width = picture.shape[:2]
            picture[self.pixels(width, height)[0]] = 0

    def fill_yuv420p(self, planes: np.ndarray, width: int, height: int) -> None:
        """Black over the masks, in place, in the planes of a yuv420p picture (as PyAV's
        VideoFrame.to_ndarray() gives them: Y, then U and V as quarter-size rows)."""
        if not self.polygons:
            return
        covered, chroma = self.pixels(width, height)
        planes[:height][covered] = BLACK_Y
        rows = height // 4
        for start in (height, height + rows):
            plane = planes[start : start + rows].reshape(height // 2, width // 2)
            plane[chroma] = NEUTRAL_UV
