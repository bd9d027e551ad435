"""The detectors Vigil can load, side by side on the same pictures in one run.

    .venv/bin/python benchmarks/detectors.py [--pictures 40]

For YOLOX-Nano (from $VIGIL_SHARED, when present), the SSD-MobileNet-v2 installed with Vigil
and the HOG fallback:
- MOT17-mini person precision and recall at IoU 0.5 (MOT's own rule for what counts), at
  each detector's operating point; with the people split at 150 px tall, since small, distant
  people are where detectors differ most;
- ms per picture on one core (one thread), whole detect() calls on vtest frames;
- the ratio of that to the baseline measured in the same run: raw ONNX Runtime `session.run`
  of YOLOX-Nano on its prepared inputs (no pre- or post-processing).
Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.assets import MODEL, MOT17
from support.media import source_video
from support.mot17 import frames_with_truth, match
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.analytics.detection.yolox import YoloxDetector
from vigil.box import Box
from vigil.settings.detector import DetectorSettings

SMALL_PX = 150  # people shorter than this in MOT17-mini's 1080p pictures (about a quarter)
WARMUP = 3


def vtest_pictures(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(source_video()))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    pictures = []
    for index in np.linspace(0, total - 1, count).astype(int):
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if ok:
            pictures.append(frame)
    return pictures


def ms_per_picture(detector: Detector, pictures: list[np.ndarray]) -> float:
    for picture in pictures[:WARMUP]:
        detector.detect([picture])
    start = time.perf_counter()
    for picture in pictures:
        detector.detect([picture])
    return (time.perf_counter() - start) / len(pictures) * 1000


def raw_onnx_ms(detector: YoloxDetector, pictures: list[np.ndarray]) -> float:
    blobs = [detector.prepare(p).blob for p in pictures]
    for blob in blobs[:WARMUP]:
        detector.session.run(None, {detector.input_name: blob})
    start = time.perf_counter()
    for blob in blobs:
        detector.session.run(None, {detector.input_name: blob})
    return (time.perf_counter() - start) / len(blobs) * 1000


def mot17(detector: Detector) -> dict[str, float]:
    true = false = 0
    wanted_by_size = {"small": 0, "large": 0}
    found_by_size = {"small": 0, "large": 0}
    for image, wanted, ignored in frames_with_truth(MOT17):
        (found,) = detector.detect([cv2.imread(str(image))], classes=["person"])
        t, f = match(found, wanted, ignored)
        true, false = true + t, false + f
        for size, boxes in _by_size(wanted).items():
            wanted_by_size[size] += len(boxes)
            found_by_size[size] += match(found, boxes, [])[0]
    total = sum(wanted_by_size.values())
    return {
        "precision": round(true / max(1, true + false), 3),
        "recall": round(true / max(1, total), 3),
        **{
            f"recall_{size}": round(found_by_size[size] / max(1, wanted_by_size[size]), 3)
            for size in wanted_by_size
        },
        "people": total,
    }


def _by_size(boxes: list[Box]) -> dict[str, list[Box]]:
    return {
        "small": [b for b in boxes if b.height < SMALL_PX],
        "large": [b for b in boxes if b.height >= SMALL_PX],
    }


def main() -> int:
    count = int(sys.argv[sys.argv.index("--pictures") + 1]) if "--pictures" in sys.argv else 40
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    pictures = vtest_pictures(count)
    detectors: dict[str, Detector] = {}
    if MODEL.is_file():
        detectors["yolox-nano"] = load_detector(DetectorSettings(model=str(MODEL)))
    detectors["ssd-mobilenet-v2"] = load_detector(DetectorSettings(model="ssd-mobilenet-v2"))
    detectors["hog"] = load_detector(DetectorSettings(adapter="hog"))
    yolox = detectors.get("yolox-nano")
    before = raw_onnx_ms(yolox, pictures) if isinstance(yolox, YoloxDetector) else None
    figures: dict[str, dict[str, float]] = {}
    timings = {name: ms_per_picture(detector, pictures) for name, detector in detectors.items()}
    # The baseline before and after the timings, averaged: this machine's noise is about ±15%.
    after = raw_onnx_ms(yolox, pictures) if isinstance(yolox, YoloxDetector) else None
    baseline = (before + after) / 2 if before and after else None
    for name, detector in detectors.items():
        row: dict[str, float] = {"ms_per_picture": round(timings[name], 1)}
        if baseline:
            row["ratio_to_raw_onnx"] = round(timings[name] / baseline, 2)
        if MOT17.is_dir():
            row.update(mot17(detector))
        figures[name] = row
        print(f"... {name} done", file=sys.stderr, flush=True)
    header = (f"{'detector':<18} {'ms/picture':>10} {'x raw':>6} {'precision':>9} "
              f"{'recall':>6} {'small':>6} {'large':>6}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, row in figures.items():
        print(f"{name:<18} {row['ms_per_picture']:>10.1f} {row.get('ratio_to_raw_onnx', '-'):>6} "
              f"{row.get('precision', '-'):>9} {row.get('recall', '-'):>6} "
              f"{row.get('recall_small', '-'):>6} {row.get('recall_large', '-'):>6}")  # fmt: skip
    if baseline:
        print(f"baseline: raw ONNX Runtime YOLOX-Nano session.run, {baseline:.1f} ms per picture")
    print(json.dumps({"baseline_raw_onnx_ms": baseline and round(baseline, 1), **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
