"""Plane geometry in frame pixels: zones, directed lines, overlaps."""

from __future__ import annotations

import math
from collections.abc import Sequence

from vigil.box import Box

Point = tuple[float, float]


class Area:
    """A zone polygon scaled from normalised coordinates to frame pixels."""

    def __init__(self, normalised: Sequence[Point], width: int, height: int) -> None:
        self.points = [(x * width, y * height) for x, y in normalised]

    def contains(self, point: Point) -> bool:
        """Even-odd ray casting; a point on an edge may fall either way."""
        x, y = point
        inside = False
        for (x1, y1), (x2, y2) in zip(self.points, self.points[1:] + self.points[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside


class DirectedLine:
    """The segment A→B in pixels. Right of it (as seen on the picture) is positive."""

    def __init__(self, normalised: Sequence[Point], width: int, height: int) -> None:
        (ax, ay), (bx, by) = ((x * width, y * height) for x, y in normalised)
        self.a, self.b = (ax, ay), (bx, by)
        self.length = math.hypot(bx - ax, by - ay)

    def signed_distance(self, point: Point) -> float:
        """Pixels from the line; positive on its right (image y points down)."""
        (ax, ay), (bx, by) = self.a, self.b
        px, py = point
        return ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) / self.length

    def crossed_between(self, start: Point, end: Point) -> bool:
        """Whether the path start→end passes the line between A and B (not beyond its ends)."""
        d0, d1 = self.signed_distance(start), self.signed_distance(end)
        if d0 == d1 or (d0 > 0) == (d1 > 0):
            return False
        share = d0 / (d0 - d1)
        x = start[0] + share * (end[0] - start[0])
        y = start[1] + share * (end[1] - start[1])
        (ax, ay), (bx, by) = self.a, self.b
        along = ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / self.length**2
        return 0.0 <= along <= 1.0


def intersection(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


def overlap(a: Box, b: Box) -> float:
    """The share of the smaller box covered by the other: 1 when one contains the other."""
    smaller = min(a.area, b.area)
    return intersection(a, b) / smaller if smaller > 0 else 0.0
