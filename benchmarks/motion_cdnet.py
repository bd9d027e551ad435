"""Motion detection against CDnet 2014 baseline/highway ground truth, with MOG2 as baseline.

    .venv/bin/python benchmarks/motion_cdnet.py [--height 120]

Scoring is CDnet's: per pixel, over the frames of temporalROI.txt that are present, inside
ROI.bmp; ground truth 255 is positive, 0 and 50 (shadow) are negative, 170 is not scored.
Vigil's mask is scaled back to the ground truth's 320x240 (nearest neighbour) for scoring,
so the coarse analysis resolution is paid for in the figures. OpenCV's MOG2 runs at full
resolution in the same run, its shadow label (127) counted as background. Every frame is fed
to both detectors (the first frame has cars in it too, so both start with the same handicap).
Cost is the mean wall time of `update` per frame on one core. The footage is found in
$VIGIL_SHARED/data/real/cdnet-highway (default: ../shared beside the repository).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.analytics.motion import MotionDetector

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("VIGIL_SHARED", ROOT.parent / "shared"))


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    seconds: float = 0.0
    frames: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray, scored: np.ndarray) -> None:
        positive = truth == 255
        self.tp += int(np.count_nonzero(predicted & positive & scored))
        self.fp += int(np.count_nonzero(predicted & ~positive & scored))
        self.fn += int(np.count_nonzero(~predicted & positive & scored))
        self.tn += int(np.count_nonzero(~predicted & ~positive & scored))

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f_measure(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.seconds / max(1, self.frames)


def evaluate(directory: Path, **tunables: float) -> tuple[Score, Score]:
    """Score Vigil's MotionDetector and MOG2 on one CDnet sequence: (vigil, mog2)."""
    first, last = (int(v) for v in (directory / "temporalROI.txt").read_text().split()[:2])
    roi = cv2.imread(str(directory / "ROI.bmp"), cv2.IMREAD_GRAYSCALE) > 0
    inputs = sorted((directory / "input").glob("in*.jpg"))
    if not inputs:
        raise SystemExit(f"no input/in*.jpg in {directory}: set VIGIL_SHARED")
    height, width = roi.shape
    vigil = MotionDetector(width, height, **tunables)
    mog2 = cv2.createBackgroundSubtractorMOG2()
    ours, theirs = Score(), Score()
    for path in inputs:
        number = int(path.stem[2:])
        frame = cv2.imread(str(path))
        started = time.perf_counter()
        motion = vigil.update(frame)
        ours.seconds += time.perf_counter() - started
        started = time.perf_counter()
        foreground = mog2.apply(frame)
        theirs.seconds += time.perf_counter() - started
        ours.frames += 1
        theirs.frames += 1
        truth_path = directory / "groundtruth" / f"gt{number:06d}.png"
        if not first <= number <= last or not truth_path.exists():
            continue
        truth = cv2.imread(str(truth_path), cv2.IMREAD_GRAYSCALE)
        scored = roi & (truth != 170)
        mask = cv2.resize(motion.mask, (width, height), interpolation=cv2.INTER_NEAREST)
        ours.add(mask > 0, truth, scored)
        theirs.add(foreground == 255, truth, scored)
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=120, help="analysis height in pixels")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    directory = shared_dir() / "data" / "real" / "cdnet-highway"
    ours, theirs = evaluate(directory, height=args.height)
    print(f"CDnet baseline/highway ({ours.frames} frames, {directory})")
    print(f"{'method':<28}{'precision':>10}{'recall':>8}{'F':>8}{'ms/frame':>10}")
    for name, score in ((f"vigil motion ({args.height} px high)", ours), ("opencv MOG2", theirs)):
        print(
            f"{name:<28}{score.precision:>10.3f}{score.recall:>8.3f}"
            f"{score.f_measure:>8.3f}{score.ms_per_frame:>10.2f}"
        )
    print(
        f"F ratio vigil/MOG2 {ours.f_measure / max(theirs.f_measure, 1e-9):.2f}, "
        f"cost ratio vigil/MOG2 {ours.ms_per_frame / max(theirs.ms_per_frame, 1e-9):.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
