"""Camera tamper on real footage: a covered lens is reported once; ordinary scenes, night, IR
switching and shake are not. Defocus and a turned camera are made from real clips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from support import footage
from support.assets import MOT17, REAL, clips, needs
from support.media import source_video
from vigil.analytics.motion import MotionDetector
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
    """Tamper events for the clip, with the motion mask the pipeline gives it."""
    detector = TamperDetector(camera)
    height, width = frames[0][1].shape[:2]
    motion = MotionDetector(width, height)
    updates: list[EventUpdate] = []
    for ts_us, picture in frames:
        updates += detector.update(ts_us, picture, motion.update(picture).mask)
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


def ping_pong(frames: Frames, seconds: float) -> Frames:
    """A short still-camera clip played forwards and back until it lasts `seconds`."""
    pictures = [p for _, p in frames]
    loop = pictures + pictures[-2:0:-1]
    count = round(seconds * FPS)
    return [(EPOCH_US + round(k * 1e6 / FPS), loop[k % len(loop)]) for k in range(count)]


MOTORBIKES = REAL / "tamper_occlusion.mp4"  # its first 2 s, before the wrap arrives


def normal_footage(path: Path) -> Frames:
    if path == MOTORBIKES:
        return ping_pong(clip(path, seconds=2.0), 30.0)
    return clip(path, seconds=30)


@pytest.mark.parametrize(
    "path",
    clips(VTEST, SHOPFRONT, MOTORBIKES, REAL / "indoor_people.mp4",
          REAL / "abandoned_backpack_indoor.mp4", REAL / "putdown_pickup_plaza_red_cup.mp4"),
)  # fmt: skip
def test_moderate_defocus_is_reported(path: Path) -> None:
    """Focus turned over 2 s until every edge is soft (a blur of 0.2% of the width, and at
    least a pixel: less is invisible on a small picture), then left so: the detail is judged
    at full resolution against the scene's own spread."""
    frames = normal_footage(path)
    start = len(frames) // 2
    ramp = round(2 * FPS)

    def defocus(p: np.ndarray, i: int) -> np.ndarray:
        sigma = max(1.0, 0.002 * p.shape[1]) * min(1.0, (i - start + 1) / ramp)
        return cv2.GaussianBlur(p, (0, 0), sigma)

    updates = run(altered(frames, start, defocus))
    assert [u.phase for u in updates] == ["new"]
    event = updates[0].event
    assert event.attributes["reason"] == "defocused"
    assert event.attributes["detail_ratio"] < event.attributes["detail_limit"]
    assert frames[start][0] <= event.start_us <= frames[start + ramp][0]


def crowd_of(people: list[np.ndarray], seed: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """Real pedestrians (cut from MOT17-04) walking across the picture in both directions,
    together hiding most of it, as a dense crowd seen from above does."""
    rng = np.random.default_rng(seed)
    walkers = [
        (people[k % len(people)], rng.uniform(0, 1), rng.uniform(-0.1, 0.9),
         rng.choice([-1, 1]) * rng.uniform(0.01, 0.03))
        for k in range(40)
    ]  # fmt: skip

    def crowd(p: np.ndarray, i: int) -> np.ndarray:
        out = p.copy()
        h, w = p.shape[:2]
        for person, x0, y0, speed in walkers:
            ph = round(h * 0.4)
            pw = max(1, round(person.shape[1] * ph / person.shape[0]))
            figure = cv2.resize(person, (pw, ph), interpolation=cv2.INTER_AREA)
            x = round(((x0 + speed * i) % 1.2 - 0.1) * w)
            y = round(y0 * h)
            xs, ys = max(0, x), max(0, y)
            xe, ye = min(w, x + pw), min(h, y + ph)
            if xe > xs and ye > ys:
                out[ys:ye, xs:xe] = figure[ys - y : ye - y, xs - x : xe - x]
        return out

    return crowd


def pedestrians() -> list[np.ndarray]:
    """The well-visible people of MOT17-04's first frame, by its ground truth."""
    sequence = MOT17 / "MOT17-04-FRCNN"
    frame = cv2.imread(str(sequence / "img1" / "000001.jpg"))
    people = []
    for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
        number, _, x, y, w, h, active, kind, visible = line.split(",")[:9]
        if number == "1" and active == "1" and kind == "1" and float(visible) > 0.8:
            x0, y0, x1, y1 = int(x), int(y), int(x) + int(w), int(y) + int(h)
            people.append(frame[max(0, y0) : y1, max(0, x0) : x1])
    return people


@needs(MOT17)
@pytest.mark.parametrize("path", clips(VTEST, SHOPFRONT, MOTORBIKES))
def test_dense_crowd_is_not_tamper(path: Path) -> None:
    frames = normal_footage(path)
    crowded = altered(frames, len(frames) // 3, crowd_of(pedestrians(), seed=len(frames)))
    assert run(crowded) == []


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
    """A pole in the wind: a few percent of jitter every frame, by whole pixels (the sensor
    samples on its grid; interpolating a sub-pixel shift would blur: that is defocus)."""
    rng = np.random.default_rng(i)
    h, w = p.shape[:2]
    dx, dy = round(rng.uniform(-0.03, 0.03) * w), round(rng.uniform(-0.03, 0.03) * h)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(p, m, (w, h), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("change", [night, noisy_night, infrared, shake])
@pytest.mark.parametrize("path", clips(VTEST, SHOPFRONT))
def test_light_changes_and_shake_are_not_tamper(
    path: Path, change: Callable[[np.ndarray, int], np.ndarray]
) -> None:
    frames = clip(path, seconds=30)
    assert run(altered(frames, len(frames) // 2, change)) == []
