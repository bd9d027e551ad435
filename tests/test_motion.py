"""Motion detection: scored against CDnet ground truth, boxes on real traffic, and quiet on a
still scene under sensor noise, small shake and a sudden exposure change."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from support import footage
from support.assets import REAL, needs
from vigil.analytics.motion import MotionDetector

ROOT = Path(__file__).resolve().parents[1]
FPS = 5.0
SHOPFRONT = REAL / "shopfront_cctv.mp4"
CDNET = REAL / "cdnet-highway"


def clip(path: Path) -> list[np.ndarray]:
    return [picture for _, picture in footage.clip(path)]


def still_scene(count: int, noise: float = 3.0) -> list[np.ndarray]:
    """One real frame repeated with fresh sensor noise, as a camera on an empty scene sends."""
    scene = clip(SHOPFRONT)[0].astype(np.float32)
    rng = np.random.default_rng(3)
    return [
        np.clip(scene + rng.normal(0, noise, scene.shape), 0, 255).astype(np.uint8)
        for _ in range(count)
    ]


@needs(CDNET)
def test_cdnet_highway_f_measure() -> None:
    spec = importlib.util.spec_from_file_location(
        "motion_cdnet", ROOT / "benchmarks/motion_cdnet.py"
    )
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = benchmark  # its dataclasses look their module up
    spec.loader.exec_module(benchmark)
    ours, _ = benchmark.evaluate(CDNET)
    # Doing nothing useful: calling every scored pixel moving (recall 1, precision = prevalence).
    prevalence = (ours.tp + ours.fn) / (ours.tp + ours.fp + ours.fn + ours.tn)
    everything = 2 * prevalence / (1 + prevalence)
    assert ours.f_measure >= 0.6
    assert ours.f_measure > everything + 0.3
    assert ours.precision >= 0.5 and ours.recall >= 0.5


@needs(REAL / "motorway_cctv.avi")
def test_moving_cars_give_boxes_on_the_road() -> None:
    frames = clip(REAL / "motorway_cctv.avi")
    height, width = frames[0].shape[:2]
    detector = MotionDetector(width, height)
    results = [detector.update(f) for f in frames]
    busy = [r for r in results[5:] if r.boxes]
    assert len(busy) >= 0.7 * len(results[5:])  # traffic flows through the whole clip
    for result in busy:
        assert result.fraction < 0.5
        for box in result.boxes:
            assert 0 <= box.x1 < box.x2 <= width and 0 <= box.y1 < box.y2 <= height
            assert box.area < 0.5 * width * height  # a vehicle, not the frame


@needs(SHOPFRONT)
def test_still_scene_with_sensor_noise_gives_no_motion() -> None:
    frames = still_scene(60)
    detector = MotionDetector(frames[0].shape[1], frames[0].shape[0])
    results = [detector.update(f) for f in frames]
    assert all(not r.boxes for r in results)
    assert max(r.fraction for r in results) < 0.001


@needs(SHOPFRONT)
def test_small_shake_gives_little_motion() -> None:
    """A mast swaying by a pixel or two at 640 px (a few tenths of a pixel at 120 px high)."""
    frames = still_scene(60)
    rng = np.random.default_rng(5)
    height, width = frames[0].shape[:2]
    detector = MotionDetector(width, height)
    fractions = []
    for picture in frames:
        dx, dy = rng.uniform(-2, 2, 2)
        shifted = cv2.warpAffine(
            picture, np.float32([[1, 0, dx], [0, 1, dy]]), (width, height),
            borderMode=cv2.BORDER_REFLECT,
        )  # fmt: skip
        fractions.append(detector.update(shifted).fraction)
    assert np.mean(fractions[10:]) < 0.01


@needs(SHOPFRONT)
@pytest.mark.parametrize("gain", [0.5, 1.6])
def test_exposure_step_is_not_lasting_motion(gain: float) -> None:
    """Auto-exposure or lights switched: the whole picture changes at once. Saturated areas
    do not scale, so small patches may differ until absorbed as stopped (5 s at 5 fps)."""
    frames = still_scene(70)
    height, width = frames[0].shape[:2]
    detector = MotionDetector(width, height)
    for picture in frames[:20]:
        detector.update(picture)
    after = [
        detector.update(np.clip(p.astype(np.float32) * gain, 0, 255).astype(np.uint8))
        for p in frames[20:]
    ]
    assert sum(r.fraction > 0.05 for r in after) <= 2
    assert all(r.fraction < 0.05 for r in after[2:])
    assert all(r.fraction < 0.001 for r in after[30:])
