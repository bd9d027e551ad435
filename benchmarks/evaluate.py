"""Scored evaluation of the analysis on the development set (benchmarks/devset.py).

    .venv/bin/python benchmarks/evaluate.py [--model NAME|PATH] [--clip NAME]

Every clip in $VIGIL_SHARED/data/real (and vtest.avi) is analysed with one general
configuration (devset.GENERAL, printed with the results), as `vigil analyze` would analyse it:
the same frame sampling at the analysis rate and the same analysis size. The raised
unattended-object and tamper events are scored against the clip's by-eye ground truth: true
positives with the time from the ground-truth moment to the alert, false alarms and misses,
per clip and per event type. Clips whose tamper lasts to their end keep sending their last
picture for a while, as the tampered camera would. MOT17-mini gives person precision and
recall at IoU 0.5, at the detector's operating point and at the tracker's min_score.

Speed is CPU seconds (all threads, decoding included) against video seconds: `vigil analyze`
per core. The model is YOLOX-Nano from $VIGIL_SHARED by default; `--model ssd-mobilenet-v2`
checks the detector installed with Vigil. Tune nothing to one clip: a changed threshold must
improve the set as a whole. Prints tables, then one JSON line with every figure.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import CLIPS, EARLY, GENERAL, SCORED, Clip, Truth
from support.mot17 import frames_with_truth, match
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.analytics.offline import sampled_pictures
from vigil.analytics.picture import analysis_picture, analysis_size
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.box import Box
from vigil.events.model import Event
from vigil.settings.analytics import CameraAnalytics
from vigil.settings.detector import DetectorSettings
from vigil.timeutil import US

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIGIL_SHARED", ROOT.parent / "shared"))
REAL = SHARED / "data" / "real"
MODEL = SHARED / "models" / "yolox_nano.onnx"

# The bar tests/test_detection.py holds YOLOX to on MOT17-mini (1080p letterboxed to 416).
MIN_PRECISION, MIN_RECALL = 0.7, 0.35


@dataclass
class Check:
    clip: str
    what: str
    expected: str
    got: str
    ok: bool


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
            pipeline = AnalysisPipeline(path.stem, settings, detector, width, height)
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


def describe(event: Event, run: Replay) -> str:
    where = "" if event.box is None else " at " + _box(normalised(event.box, run.size))
    reason = event.attributes.get("reason")
    kind = f"{event.type}{'/' + str(reason) if reason else ''}"
    return f"{kind} {event.label or 'unlabelled'}{where} raised {run.raised_s[event.id]:.1f} s"


def _box(box: Box) -> str:
    return "(" + ",".join(f"{v:.2f}" for v in (box.x1, box.y1, box.x2, box.y2)) + ")"


def evaluate_clip(
    clip: Clip, detector: Detector, figures: dict[str, Any]
) -> tuple[Score, Replay, list[Check]]:
    path = (
        (SHARED / "data" / clip.path.removeprefix("../"))
        if clip.path.startswith("../")
        else (REAL / clip.path)
    )
    settings = CameraAnalytics.model_validate(GENERAL)
    run = replay(path, clip, settings, detector)
    result = score(clip, run)
    checks = []
    for kind, label in clip.expects.items():
        found = [e for e in run.of_type(kind) if e.label == label]
        checks.append(Check(clip.path, f"{kind} {label}", "> 0", str(len(found)), bool(found)))
    figures[clip.path] = {
        "true": [
            {"truth": t.what, "latency_s": round(lat, 1), "event": describe(e, run)}
            for t, e, lat in result.true
        ],
        "false": [{"event": describe(e, run), "why": why} for e, why in result.false],
        "missed": [t.what for t in result.missed],
        "optional": [describe(e, run) for _, e in result.optional],
        "other_events": {
            kind: len(run.of_type(kind))
            for kind in ("intrusion", "stopped_vehicle", "line_crossing")
        },
        "frames": run.frames,
        "detector_calls": run.detector_calls,
        "video_s": round(run.video_s, 1),
        "cpu_s": round(run.cpu_s, 2),
    }
    return result, run, checks


def mot17(detector: Detector, figures: dict[str, Any]) -> list[Check]:
    min_score = CameraAnalytics().analysis.min_score
    operating = getattr(detector, "score", None)
    points = {f"detector score {operating}": 0.0, f"track min_score {min_score}": min_score}
    counts = {name: [0, 0] for name in points}  # true, false
    total = 0
    for image, wanted, ignored in frames_with_truth(REAL / "MOT17-mini"):
        (found,) = detector.detect([cv2.imread(str(image))], ["person"])
        total += len(wanted)
        for name, floor in points.items():
            t, f = match([d for d in found if d.score >= floor], wanted, ignored)
            counts[name][0] += t
            counts[name][1] += f
    checks = []
    figures["MOT17-mini"] = {}
    for name, (true, false) in counts.items():
        precision, recall = true / max(1, true + false), true / max(1, total)
        figures["MOT17-mini"][name] = {
            "precision": round(precision, 3), "recall": round(recall, 3),
            "true": true, "false": false, "gt": total,
        }  # fmt: skip
        checks.append(
            Check("MOT17-mini", f"persons, {name}",
                  f"P >= {MIN_PRECISION}, R >= {MIN_RECALL}",
                  f"P {precision:.3f} R {recall:.3f} ({true}/{total}, {false} false)",
                  precision >= MIN_PRECISION and recall >= MIN_RECALL)
        )  # fmt: skip
    return checks


def main() -> int:
    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else str(MODEL)
    only = sys.argv[sys.argv.index("--clip") + 1] if "--clip" in sys.argv else None
    if model == str(MODEL) and not MODEL.is_file():
        print(f"{MODEL} is missing; set VIGIL_SHARED to the shared assets directory")
        return 2
    detector = load_detector(DetectorSettings(model=model))
    print(f"detector: {detector.name} ({model})")
    print(f"configuration, the same for every clip: {json.dumps(GENERAL)}")
    figures: dict[str, Any] = {}
    checks: list[Check] = []
    totals = {kind: {"true": 0, "false": 0, "missed": 0, "latency": []} for kind in SCORED}
    video_s = cpu_s = 0.0
    header = (
        f"{'clip':<46} {'type':<18} {'TP':>3} {'FP':>3} {'miss':>4}  {'alert after':<12} "
        f"{'x rt/core':>9}"
    )
    rows = []
    for clip in CLIPS:
        if only and only not in clip.path:
            continue
        result, run, found = evaluate_clip(clip, detector, figures)
        checks += found
        video_s += run.video_s
        cpu_s += run.cpu_s
        speed = run.video_s / run.cpu_s if run.cpu_s else float("inf")
        print(
            f"... {clip.path} done: {run.cpu_s:.1f} CPU-s for {run.video_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        for kind in SCORED:
            true = [(t, e, lat) for t, e, lat in result.true if t.type == kind]
            false = [(e, why) for e, why in result.false if e.type == kind]
            missed = [t for t in result.missed if t.type == kind]
            if not (true or false or missed or any(t.type == kind for t in clip.truths)):
                continue
            totals[kind]["true"] += len(true)
            totals[kind]["false"] += len(false)
            totals[kind]["missed"] += len(missed)
            totals[kind]["latency"] += [lat for _, _, lat in true]
            after = ", ".join(f"{lat:.1f} s" for _, _, lat in true) or "-"
            rows.append(f"{clip.path[:46]:<46} {kind:<18} {len(true):>3} {len(false):>3} "
                        f"{len(missed):>4}  {after:<12} {speed:>9.1f}")  # fmt: skip
            rows += [f"{'':<46}   false: {describe(e, run)} ({why})" for e, why in false]
            rows += [f"{'':<46}   missed: {t.what} (due {t.moment:.1f} s)" for t in missed]
            rows += [
                f"{'':<46}   optional: {describe(e, run)}"
                for _, e in result.optional
                if e.type == kind
            ]
        if not any(t for t in clip.truths) and not result.false:
            rows.append(f"{clip.path[:46]:<46} {'(none expected)':<18} {0:>3} {0:>3} {0:>4}  "
                        f"{'-':<12} {speed:>9.1f}")  # fmt: skip
    print(header)
    print("-" * len(header))
    print("\n".join(rows))
    print("-" * len(header))
    for kind, t in totals.items():
        latency = t["latency"]
        mean = f"{sum(latency) / len(latency):.1f} s" if latency else "-"
        print(f"{'all clips':<46} {kind:<18} {t['true']:>3} {t['false']:>3} {t['missed']:>4}  "
              f"{mean:<12}")  # fmt: skip
    speed = video_s / cpu_s if cpu_s else float("inf")
    print(f"`vigil analyze` speed: {video_s:.0f} s of video in {cpu_s:.0f} CPU-s, "
          f"{speed:.1f} x real time per core (target 10)")  # fmt: skip
    if not only:
        checks += mot17(detector, figures)
    for c in checks:
        print(f"check {c.clip}: {c.what}: expected {c.expected}, got {c.got}: "
              f"{'PASS' if c.ok else 'FAIL'}")  # fmt: skip
    clean = all(t["false"] == 0 and t["missed"] == 0 for t in totals.values())
    summary = {
        "configuration": GENERAL,
        "totals": {
            k: {**v, "latency": [round(x, 1) for x in v["latency"]]} for k, v in totals.items()
        },
        "speed_x_real_time_per_core": round(speed, 2),
        "video_s": round(video_s, 1),
        "cpu_s": round(cpu_s, 1),
        "checks": [c.__dict__ for c in checks],
        "figures": figures,
    }
    print(json.dumps(summary, default=str))
    return 0 if clean and all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
