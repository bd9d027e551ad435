"""Detection scheduling in the analysis pipeline: motion-gated, and easing off when the
machine's shared detector is busy, on real footage with the real detector."""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection

import av
import numpy as np
import pytest

from support.assets import MODEL, needs
from support.media import source_video
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.analytics.offline import sampled_pictures
from vigil.analytics.pipeline import MAX_SLOWDOWN, RECHECK_US, AnalysisPipeline
from vigil.analytics.types import Detection
from vigil.settings.analytics import CameraAnalytics
from vigil.settings.detector import DetectorSettings

SECONDS = 24
SETTINGS = CameraAnalytics.model_validate(
    {
        "zones": {
            "all": {
                "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                "intrusion": {"objects": ["person"]},
            }
        }
    }
)


class BusyDetector:
    """The real detector behind a queue of other cameras' pictures: every answer is late."""

    def __init__(self, detector: Detector, wait_s: float) -> None:
        self.detector = detector
        self.wait_s = wait_s

    def detect(
        self, images: list[np.ndarray], classes: Collection[str] | None = None
    ) -> list[list[Detection]]:
        time.sleep(self.wait_s)
        return self.detector.detect(images, classes)


@pytest.fixture(scope="module")
def pictures() -> list[tuple[int, np.ndarray]]:
    with av.open(str(source_video())) as container:
        frames = container.decode(video=0)
        return list(itertools.takewhile(lambda p: p[0] < SECONDS * 1_000_000,
                                        sampled_pictures(frames, 5.0)))  # fmt: skip


def run(detector: Detector | BusyDetector, pictures: list[tuple[int, np.ndarray]],
        live: bool = True) -> tuple[AnalysisPipeline, list[int]]:  # fmt: skip
    height, width = pictures[0][1].shape[:2]
    pipeline = AnalysisPipeline("vtest", SETTINGS, detector, width, height, live=live)  # type: ignore[arg-type]
    calls, intrusions = [], []
    for ts_us, picture in pictures:
        before = pipeline.stats.detector_calls
        updates = pipeline.process(ts_us, picture)
        if pipeline.stats.detector_calls > before:
            calls.append(ts_us)
        intrusions += [u for u in updates if u.phase == "new" and u.event.type == "intrusion"]
    assert intrusions, "people walk through vtest the whole time; intrusions must be raised"
    return pipeline, calls


@needs(MODEL)
def test_a_busy_detector_is_asked_less_but_still_regularly(
    pictures: list[tuple[int, np.ndarray]],
) -> None:
    detector = load_detector(DetectorSettings(model=str(MODEL)))
    idle, idle_calls = run(detector, pictures)
    # People walk through the whole clip: with a free detector nearly every picture is looked at.
    assert len(idle_calls) >= 0.6 * len(pictures)
    busy, busy_calls = run(BusyDetector(detector, wait_s=0.25), pictures)
    assert len(busy_calls) <= 0.6 * len(idle_calls)
    # ...but never less often than the longest stretched recheck while people move.
    longest = max(b - a for a, b in itertools.pairwise(busy_calls))
    assert longest <= RECHECK_US * MAX_SLOWDOWN + 200_000
    assert idle.stats.frames == busy.stats.frames == len(pictures)


@needs(MODEL)
def test_a_file_is_analysed_the_same_however_slow_the_detector(
    pictures: list[tuple[int, np.ndarray]],
) -> None:
    """`vigil analyze` and the evaluation: the result must not depend on the machine's load."""
    detector = load_detector(DetectorSettings(model=str(MODEL)))
    first = pictures[: 8 * 5]
    _, idle_calls = run(detector, first, live=False)
    _, busy_calls = run(BusyDetector(detector, wait_s=0.25), first, live=False)
    assert busy_calls == idle_calls
