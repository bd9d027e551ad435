"""The development set: every clip in $VIGIL_SHARED/data/real, what happens in it, and how
a replay of one is scored (benchmarks/evaluate.py prints the table; tests check it).

The ground truth is transcribed from that folder's README, which was read by eye from the
footage; nothing here was chosen by looking at what Vigil does. Times are seconds from the
clip's start, boxes are normalised (x0, y0, x1, y1).

A `Truth` is an event that should be raised: `moment` is when the alert becomes due (an
object's owner has gone; a tamper has begun), `until` the last moment a raise still counts
for it (after that the situation is over). A raise of that type between `moment - EARLY` and
`until` that overlaps `box` (when given) matches it. An `optional` truth is one the clip's
README says may or may not alarm with this dwell: matching it is neither credit nor blame.
Every other raise of a scored type is a false alarm.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from support.assets import REAL, SHARED
from vigil.analytics.detection.base import Detector
from vigil.analytics.offline import sampled_pictures
from vigil.analytics.picture import analysis_picture, analysis_size
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.box import Box
from vigil.events.model import Event
from vigil.settings.analytics import CameraAnalytics
from vigil.timeutil import US

EARLY = 2.0  # seconds a raise may precede the ground-truth moment (by-eye times are rough)
SCORED = ("unattended_object", "tamper")


@dataclass(frozen=True)
class Truth:
    type: str
    moment: float
    until: float
    box: tuple[float, float, float, float] | None = None
    reason: str | None = None  # for tamper: covered, moved, defocused
    optional: bool = False
    what: str = ""


@dataclass(frozen=True)
class Clip:
    path: str  # under data/real, or ../vtest.avi
    scene: str
    truths: tuple[Truth, ...] = ()
    # The camera keeps sending its last picture when a tamper lasts to the end of the clip.
    hold_last_s: float = 0.0
    # The picture as the camera made it, where the file stores it otherwise.
    true_size: tuple[int, int] | None = None
    # Events the scene should raise beyond the scored ones (informational).
    expects: dict[str, str] = field(default_factory=dict)


HOLD = 10.0

CLIPS: tuple[Clip, ...] = (
    Clip(
        "abandoned_backpack_indoor.mp4",
        "indoor lobby: a backpack put down, both people walk away",
        (Truth("unattended_object", 490 / 29.97, 41.3, (0.20, 0.67, 0.30, 0.77),
               what="backpack left on the floor"),),
    ),
    Clip(
        "abandon_ilids_avss07_platform_suitcase.mp4",
        "i-LIDS railway platform: a suitcase set down, owner beside it, then gone, then back",
        (Truth("unattended_object", 107.0, 180.0, (0.21, 0.47, 0.29, 0.64),
               what="suitcase unattended 107-178 s"),),
    ),
    Clip(
        "abandon_pets2006_cam3_backpack_stretched.mp4",
        "PETS 2006 concourse: a backpack put down at a barrier, owner walks off",
        (Truth("unattended_object", 35.0, 50.3, (0.43, 0.34, 0.48, 0.40),
               what="backpack unattended from 35 s"),),
        true_size=(720, 576),
    ),
    Clip(
        "putdown_pickup_plaza_red_cup.mp4",
        "outdoor plaza: a small cup put down and picked up again, never left long",
        (Truth("unattended_object", 147.0, 158.5, (0.53, 0.67, 0.555, 0.73), optional=True,
               what="cup alone 137-158.5 s: a 10 s dwell may alarm"),),
    ),
    Clip(
        "tamper_occlusion.mp4",
        "parked motorbikes: bubble wrap pulled across the lens",
        (Truth("tamper", 70 / 29.97, 4.32 + HOLD, reason="covered", what="lens covered"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_hallway_ir_spray_turned.mp4",
        "night IR hallway: spray on the lens, then the camera turned to the ceiling",
        (Truth("tamper", 64.5, 99.2 + HOLD, what="sprayed, then turned away"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_outdoor_stairs_camera_moved.mp4",
        "outdoor stairs: the camera swung to a new view",
        (Truth("tamper", 13.3, 18.4 + HOLD, reason="moved", what="camera moved"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_ladder_hand_covers_lens.mp4",
        "a man on a ladder fills the view, then his hand covers the lens",
        (Truth("tamper", 8.1, 9.3 + HOLD, reason="covered", what="hand over the lens"),),
        hold_last_s=HOLD,
    ),
    Clip("shopfront_cctv.mp4", "shop door CCTV, compressed, a person near the end",
         expects={"intrusion": "person"}),
    Clip("indoor_people.mp4", "indoor, people walk up to a table one at a time",
         expects={"intrusion": "person"}),
    Clip("motorway_cctv.avi", "motorway CCTV: cars, vans, a lorry, a pedestrian",
         expects={"intrusion": "car"}),
    Clip("../vtest.avi", "pedestrians in a hall", expects={"intrusion": "person"}),
)  # fmt: skip

# One configuration for every clip: the general one.
GENERAL = {
    "analysis": {"fps": 5},
    "tamper": True,
    "unattended_object": {"seconds": 10},
    "zones": {
        "frame": {
            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "intrusion": {"objects": ["person", "car", "truck", "bus", "motorcycle", "bicycle"]},
        }
    },
}  # fmt: skip


def clip_path(clip: Clip) -> Path:
    return (
        SHARED / "data" / clip.path.removeprefix("../")
        if clip.path.startswith("../")
        else (REAL / clip.path)
    )


@dataclass
class Replay:
    """Events of one clip, each with the clip time (s) at which the camera would have raised it."""

    events: dict[str, Event] = field(default_factory=dict)
    raised_s: dict[str, float] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)  # the analysis picture's
    frames: int = 0
    detector_calls: int = 0
    video_s: float = 0.0
    cpu_s: float = 0.0  # decoding and analysis of the clip itself (not the held picture)

    def of_type(self, kind: str) -> list[Event]:
        return sorted((e for e in self.events.values() if e.type == kind), key=lambda e: e.start_us)


@dataclass
class Score:
    """One clip's raises of the scored types against its truths."""

    true: list[tuple[Truth, Event, float]] = field(default_factory=list)  # with the latency
    false: list[tuple[Event, str]] = field(default_factory=list)  # with why it matched nothing
    missed: list[Truth] = field(default_factory=list)
    optional: list[tuple[Truth, Event]] = field(default_factory=list)


def pictures(
    path: Path, fps: float, size: tuple[int, int] | None
) -> Iterator[tuple[int, np.ndarray]]:
    """(clip time in µs, BGR picture at analysis size) at `fps`, sampled as `vigil analyze` does."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for ts_us, picture in sampled_pictures(container.decode(stream), fps):
            yield ts_us, picture if size is None else restored(picture, size)


def restored(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The picture at the camera's own proportions, for a file stored stretched."""
    return cv2.resize(picture, analysis_size(*size), interpolation=cv2.INTER_AREA)


def final_picture(path: Path, size: tuple[int, int] | None) -> tuple[int, np.ndarray]:
    """The clip's very last frame (clip time in µs, BGR at analysis size), sampled or not."""
    last = None
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None:
                last = frame
    if last is None:
        raise SystemExit(f"{path}: no frames")
    picture = analysis_picture(last)
    return int(last.time * US), picture if size is None else restored(picture, size)


def replay(path: Path, clip: Clip, settings: CameraAnalytics, detector: Detector) -> Replay:
    """Run the pipeline over the clip; then, for a tamper that lasts to the end, keep sending
    its last frame (the camera's state when the recording stopped) for `clip.hold_last_s`."""
    fps = settings.analysis.fps
    period_us = int(US / fps)
    result = Replay()
    pipeline: AnalysisPipeline | None = None

    def feed(ts_us: int, picture: np.ndarray) -> None:
        nonlocal pipeline
        height, width = picture.shape[:2]
        if pipeline is None:
            pipeline = AnalysisPipeline(path.stem, settings, detector, width, height, live=False)
            result.size = (width, height)
        for update in pipeline.process(ts_us, picture):
            result.events[update.event.id] = update.event
            result.raised_s.setdefault(update.event.id, ts_us / US)

    last_us = 0
    started = time.process_time()
    for ts_us, picture in pictures(path, fps, clip.true_size):
        feed(ts_us, picture)
        last_us = ts_us
    result.cpu_s = time.process_time() - started
    result.video_s = last_us / US + 1 / fps
    if clip.hold_last_s > 0:
        final_us, final = final_picture(path, clip.true_size)
        held_from = max(final_us, last_us + period_us)
        for step in range(int(clip.hold_last_s * fps)):
            feed(held_from + step * period_us, final)
    if pipeline is not None:
        result.frames = pipeline.stats.frames
        result.detector_calls = pipeline.stats.detector_calls
    return result


def normalised(box: Box, size: tuple[int, int]) -> Box:
    width, height = size
    return Box(box.x1 / width, box.y1 / height, box.x2 / width, box.y2 / height)


def matches(truth: Truth, event: Event, raised_s: float, size: tuple[int, int]) -> bool:
    if event.type != truth.type or not truth.moment - EARLY <= raised_s <= truth.until:
        return False
    if truth.box is None:
        return True
    return event.box is not None and normalised(event.box, size).iou(Box(*truth.box)) >= 0.1


def score(clip: Clip, run: Replay) -> Score:
    result = Score()
    taken: set[int] = set()
    raises = sorted(
        (e for e in run.events.values() if e.type in SCORED), key=lambda e: run.raised_s[e.id]
    )
    for event in raises:
        raised = run.raised_s[event.id]
        found = [
            n for n, truth in enumerate(clip.truths) if matches(truth, event, raised, run.size)
        ]
        fresh = [n for n in found if n not in taken]
        if not fresh:
            result.false.append((event, "a second alert for it" if found else "nothing there"))
            continue
        truth = clip.truths[fresh[0]]
        taken.add(fresh[0])
        if truth.optional:
            result.optional.append((truth, event))
        else:
            result.true.append((truth, event, raised - truth.moment))
    result.missed = [t for n, t in enumerate(clip.truths) if n not in taken and not t.optional]
    return result
