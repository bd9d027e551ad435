"""Where to look: a few square crops around motion and tracked objects, as Frigate does.

Detection never runs on a still picture with nothing tracked. Boxes that lie close together
share a crop; each crop is square and at least about the model's input size, so a small
object keeps its pixels instead of being shrunk with the whole frame. Too many crops, or
crops covering most of the frame, become one crop of the whole frame.
"""

from __future__ import annotations

from vigil.box import Box

MIN_SIDE = 320  # pixels of the analysed frame; about the detector's input
MARGIN = 0.25  # grow a cluster by this fraction of its size, to see whole objects
MAX_REGIONS = 3
WHOLE_FRAME = 0.6  # above this share of the frame, one crop of the whole frame


def _union(a: Box, b: Box) -> Box:
    return Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))


def _square(cluster: Box, width: int, height: int) -> Box:
    side = max(cluster.width, cluster.height) * (1 + 2 * MARGIN)
    side = min(max(side, MIN_SIDE), width, height)
    cx, cy = (cluster.x1 + cluster.x2) / 2, (cluster.y1 + cluster.y2) / 2
    left = min(max(0.0, cx - side / 2), width - side)
    top = min(max(0.0, cy - side / 2), height - side)
    return Box(int(left), int(top), int(left + side), int(top + side))


def _contains(outer: Box, inner: Box) -> bool:
    return (
        outer.x1 <= inner.x1 and outer.y1 <= inner.y1
        and outer.x2 >= inner.x2 and outer.y2 >= inner.y2
    )  # fmt: skip


def detection_regions(boxes: list[Box], width: int, height: int) -> list[Box]:
    """The crops that cover every box; none when there is nothing to look at."""
    clusters: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.area, reverse=True):
        for n, cluster in enumerate(clusters):
            if _contains(_square(cluster, width, height), box):
                clusters[n] = _union(cluster, box)
                break
        else:
            clusters.append(box)
    regions = [_square(c, width, height) for c in clusters]
    covered = sum(r.area for r in regions)
    if len(regions) > MAX_REGIONS or covered >= WHOLE_FRAME * width * height:
        return [Box(0, 0, width, height)]
    return regions
