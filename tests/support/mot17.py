"""MOT17 ground truth and the matching that scores person detections against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vigil.analytics.types import Detection
from vigil.box import Box

PEDESTRIAN, VISIBLE = 1, 0.5  # gt class 1 = pedestrian; the visibility that must be found


def frames_with_truth(mot17: Path) -> Iterator[tuple[Path, list[Box], list[Box]]]:
    """(image, boxes to find, boxes to ignore) for every frame of every sequence.

    MOT's own rule: only active, mostly visible pedestrians count; static people, reflections,
    people on vehicles and mostly hidden pedestrians are neither hits nor misses.
    """
    sequences = sorted(mot17.glob("MOT17-*"))
    if not sequences:
        raise FileNotFoundError(f"{mot17}: no MOT17 sequences; set VIGIL_SHARED")
    for sequence in sequences:
        gt = np.loadtxt(sequence / "gt" / "gt.txt", delimiter=",", ndmin=2)
        for image in sorted((sequence / "img1").glob("*.jpg")):
            rows = gt[gt[:, 0] == int(image.stem)]
            boxes = [Box(r[2], r[3], r[2] + r[4], r[3] + r[5]) for r in rows]
            counted = (rows[:, 7] == PEDESTRIAN) & (rows[:, 6] == 1) & (rows[:, 8] >= VISIBLE)
            wanted = [b for b, c in zip(boxes, counted, strict=True) if c]
            ignored = [b for b, c in zip(boxes, counted, strict=True) if not c]
            yield image, wanted, ignored


def match(found: list[Detection], wanted: list[Box], ignored: list[Box]) -> tuple[int, int]:
    """(true, false) positives at IoU 0.5, greedy by score; hits on ignored boxes count neither."""
    used: set[int] = set()
    true = false = 0
    for det in sorted(found, key=lambda d: -d.score):
        free = [(det.box.iou(box), i) for i, box in enumerate(wanted) if i not in used]
        iou, best = max(free, default=(0.0, -1))
        if iou >= 0.5:
            used.add(best)
            true += 1
        elif not any(det.box.iou(box) >= 0.5 for box in ignored):
            false += 1
    return true, false
