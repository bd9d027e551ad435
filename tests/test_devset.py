"""The analysis on the real clips of the development set, one general configuration for all
(support/devset.py; benchmarks/evaluate.py prints the whole table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from support import assets, footage
from support.assets import MODEL, REAL, needs
from support.devset import CLIPS, GENERAL, Clip, Replay, Score, clip_path, replay, score
from support.media import source_video
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.settings.analytics import CameraAnalytics
from vigil.settings.detector import DetectorSettings


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    yield load_detector(DetectorSettings(model=str(MODEL)))


def clips(*names: str) -> list[object]:
    chosen = [c for c in CLIPS if any(name in c.path for name in names)]
    assert len(chosen) == len(names), "a clip named here is not in the development set"
    return [
        pytest.param(c, marks=needs(clip_path(c), MODEL), id=c.path.removesuffix(".mp4"))
        for c in chosen
    ]


def run(clip: Clip, detector: Detector) -> tuple[Replay, Score]:
    played = replay(clip_path(clip), clip, CameraAnalytics.model_validate(GENERAL), detector)
    return played, score(clip, played)


@pytest.mark.parametrize(
    "clip", clips("abandoned_backpack_indoor", "pets2006", "platform_suitcase")
)
def test_a_left_bag_is_found(clip: Clip, detector: Detector) -> None:
    _, result = run(clip, detector)
    assert result.missed == [], f"missed: {[t.what for t in result.missed]}"
    (_, event, latency) = result.true[0]
    # Raised once its owner had been gone for the dwell, and not much later.
    assert GENERAL["unattended_object"]["seconds"] - 3 <= latency <= 20, latency  # type: ignore[index]
    assert event.attributes["source"] in ("detector", "background", "both")
    assert event.attributes["dwell_s"] >= GENERAL["unattended_object"]["seconds"]  # type: ignore[index]


@pytest.mark.parametrize("clip", clips("camera_moved", "ir_spray_turned"))
def test_a_moved_camera_raises_one_tamper_and_no_unattended_alarm(
    clip: Clip, detector: Detector
) -> None:
    played, result = run(clip, detector)
    assert played.of_type("unattended_object") == [], "the new view is nobody's left luggage"
    assert [t.type for t, _, _ in result.true] == ["tamper"] and result.false == []


@pytest.mark.parametrize("clip", clips("tamper_occlusion", "hand_covers_lens"))
def test_a_covered_lens_raises_one_covered_tamper(clip: Clip, detector: Detector) -> None:
    _, result = run(clip, detector)
    assert result.missed == [] and result.false == []
    assert [e.attributes["reason"] for _, e, _ in result.true] == ["covered"]


@pytest.mark.parametrize("clip", clips("shopfront", "indoor_people", "motorway", "vtest"))
def test_busy_scenes_raise_no_tamper_and_no_unattended_alarm(
    clip: Clip, detector: Detector
) -> None:
    played, result = run(clip, detector)
    assert result.false == [], [(e.type, e.attributes) for e, _ in result.false]
    kind, label = next(iter(clip.expects.items()))
    assert any(e.label == label for e in played.of_type(kind)), "the scene's own events"


def _switched(picture: np.ndarray, night: bool) -> np.ndarray:
    """The camera's night mode, or the day picture. Under infrared, materials reflect unlike
    by day: grey, darker, and with another tone curve (dark surfaces lift, light ones fall),
    which no single brightness gain undoes."""
    if not night:
        return picture
    grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    infrared = 255 * 0.5 * np.sqrt(grey)
    return cv2.cvtColor(infrared.astype(np.uint8), cv2.COLOR_GRAY2BGR)


@needs(MODEL)
@pytest.mark.parametrize(
    "path", assets.clips(REAL / "shopfront_cctv.mp4", REAL / "indoor_people.mp4", source_video())
)
def test_day_night_switches_raise_no_unattended_alarm(path: Path, detector: Detector) -> None:
    """An IR switch changes every pixel at once: the scene is re-learnt, and nothing in it is
    something left."""
    frames = footage.clip(path, 60.0)
    settings = CameraAnalytics.model_validate(GENERAL)
    height, width = frames[0][1].shape[:2]
    pipeline = AnalysisPipeline("switch", settings, detector, width, height, live=False)
    events = []
    for n, (ts_us, picture) in enumerate(frames):
        night = len(frames) // 4 <= n < len(frames) // 2 or n >= 3 * len(frames) // 4
        events += [u.event for u in pipeline.process(ts_us, _switched(picture, night))]
    assert [e for e in events if e.type in ("unattended_object", "tamper")] == []
