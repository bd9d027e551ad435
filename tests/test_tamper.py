"""Camera tamper on real footage: a covered lens is reported once; ordinary scenes, night, IR
switching and shake are not. Defocus and a turned camera are made from real clips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from support import footage
from support.assets import REAL, clips, needs
from support.media import source_video
from vigil.analytics.tamper import TamperDetector
from vigil.events.model import EventUpdate

VTEST = source_video()
SHOPFRONT = REAL / "shopfront_cctv.mp4"
EPOCH_US = 1_700_000_000_000_000  # analysed frames carry wall-clock time
FPS = 5.0

Frames = list[tuple[int, np.ndarray]]


def clip(path: Path, seconds: float | None = None) -> Frames:
    return footage.clip(path, seconds, EPOCH_US)


def run(frames: Frames, camera: str = "test") -> list[EventUpdate]:
    detector = TamperDetector(camera)
    updates: list[EventUpdate] = []
    for ts_us, picture in frames:
        updates += detector.update(ts_us, picture)
    return updates


def altered(frames: Frames, start: int, change: Callable[[np.ndarray, int], np.ndarray]) -> Frames:
    """The clip with `change` applied from frame `start` on (it also gets the frame index)."""
    return [(ts, change(p, i) if i >= start else p) for i, (ts, p) in enumerate(frames)]


@needs(REAL / "tamper_occlusion.mp4")
def test_covered_lens_gives_one_event_after_the_cover_arrives() -> None:
    frames = clip(REAL / "tamper_occlusion.mp4")
    # The clip ends as the wrap covers the lens; a covered camera stays covered, so hold the
    # last picture for ten more seconds.
    last_us, last = frames[-1]
    held = [(last_us + k * 200_000, last) for k in range(1, 51)]
    updates = run(frames + held)
    assert [u.phase for u in updates] == ["new"]
    event = updates[0].event
    assert event.type == "tamper" and event.camera == "test"
    assert event.attributes["reason"] == "covered"
    assert event.start_us >= EPOCH_US + 70 / 29.97 * 1e6  # not before the wrap appears
    assert event.end_us is None


@pytest.mark.parametrize(
    "path",
    clips(SHOPFRONT, REAL / "indoor_people.mp4", REAL / "abandoned_backpack_indoor.mp4", VTEST),
)
def test_ordinary_footage_gives_no_tamper(path: Path) -> None:
    assert run(clip(path)) == []


def test_defocus_is_reported_and_ends_when_focus_returns() -> None:
    frames = clip(VTEST, seconds=40)
    third = len(frames) // 3

    def blur(p: np.ndarray, i: int) -> np.ndarray:
        return cv2.GaussianBlur(p, (41, 41), 0) if i < 2 * third else p

    updates = run(altered(frames, third, blur))
    assert [u.phase for u in updates] == ["new", "end"]
    new, end = updates[0].event, updates[1].event
    assert new.attributes["reason"] == "defocused"
    assert new.id == end.id
    assert frames[third][0] <= new.start_us < frames[third][0] + 1_000_000
    assert end.end_us is not None and end.end_us >= frames[2 * third][0]


def shifted(p: np.ndarray, _: int) -> np.ndarray:
    h, w = p.shape[:2]
    m = np.float32([[1, 0, w * 0.3], [0, 1, h * 0.1]])
    return cv2.warpAffine(p, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def rotated(p: np.ndarray, _: int) -> np.ndarray:
    h, w = p.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.2)
    return cv2.warpAffine(p, m, (w, h), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("turn", [shifted, rotated])
@pytest.mark.parametrize("path", clips(VTEST, SHOPFRONT))
def test_turned_camera_is_moved(path: Path, turn: Callable[[np.ndarray, int], np.ndarray]) -> None:
    frames = clip(path, seconds=30)
    middle = len(frames) // 2
    updates = run(altered(frames, middle, turn))
    assert [u.phase for u in updates] == ["new"]
    assert updates[0].event.attributes["reason"] == "moved"
    assert updates[0].event.start_us >= frames[middle][0]


def night(p: np.ndarray, _: int) -> np.ndarray:
    return (p.astype(np.float32) * 0.3).astype(np.uint8)


def infrared(p: np.ndarray, _: int) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(p, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def noisy_night(p: np.ndarray, i: int) -> np.ndarray:
    """Dark with the sensor noise real cameras add when they raise their gain."""
    noise = np.random.default_rng(i).normal(0, 4, p.shape).astype(np.float32)
    return np.clip(p.astype(np.float32) * 0.3 + noise, 0, 255).astype(np.uint8)


def shake(p: np.ndarray, i: int) -> np.ndarray:
    """A pole in the wind: a few percent of jitter every frame."""
    rng = np.random.default_rng(i)
    h, w = p.shape[:2]
    dx, dy = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(p, m, (w, h), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("change", [night, noisy_night, infrared, shake])
@pytest.mark.parametrize("path", clips(VTEST, SHOPFRONT))
def test_light_changes_and_shake_are_not_tamper(
    path: Path, change: Callable[[np.ndarray, int], np.ndarray]
) -> None:
    frames = clip(path, seconds=30)
    assert run(altered(frames, len(frames) // 2, change)) == []
