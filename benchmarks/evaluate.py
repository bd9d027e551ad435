"""Evaluation of the analysis on real footage (issue 3, "Evaluation"): expected vs got per clip.

    .venv/bin/python benchmarks/evaluate.py [--model NAME|PATH]

The model is YOLOX-Nano from $VIGIL_SHARED by default; `--model ssd-mobilenet-v2` checks the
detector installed with Vigil (any known model name or ONNX file works).

1. abandoned_backpack_indoor.mp4 with `vigil analyze` defaults: one unattended-object event,
   boxed on the bag (IoU against the bag's hand-read box), no tamper event.
2. tamper_occlusion.mp4: the lens is covered only in the clip's last frames and the tamper rule
   needs the condition to hold for seconds, so the clip is extended by holding its last frame
   for 10 s, as the covered camera would keep sending it: one "covered" tamper event.
3. shopfront_cctv.mp4, indoor_people.mp4, vtest.avi with tamper, unattended object and a
   whole-frame person-intrusion zone: person events, no tamper or unattended-object event.
4. MOT17-mini: YOLOX person precision and recall at IoU 0.5, at the detector's operating point
   and counting only detections strong enough to start a track (analysis min_score).

Clips are replayed as `vigil analyze` does (same frame sampling at the analysis rate, same
analysis size). The clips are for checking, not tuning: every setting here is a default or the
issue's example. Prints a table, then one JSON line with every figure. Assets come from
$VIGIL_SHARED (default: ../shared beside the repository).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.mot17 import frames_with_truth, match
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.analytics.offline import analyze_video, default_analytics, sampled_pictures
from vigil.analytics.picture import analysis_picture
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

# Hand-read from the clip: where the backpack stands after its owners leave (640x480 pixels).
BAG = Box(131, 324, 188, 368)
BAG_IOU = 0.3  # a box "on the backpack": most of it is the bag, not the floor around it
# tamper_occlusion.mp4: the bubble wrap reaches the lens at frame 70 of 29.97 fps.
OCCLUSION_FROM_S = 70 / 29.97
HOLD_S = 10.0
PEOPLE_SETTINGS = {
    "tamper": True,
    "unattended_object": {"seconds": 15},
    "zones": {
        "floor": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "intrusion": {"objects": ["person"]}}
    },
}
# The bar tests/test_detection.py holds YOLOX to on MOT17-mini (1080p letterboxed to 416).
MIN_PRECISION, MIN_RECALL = 0.7, 0.35


@dataclass
class Check:
    clip: str
    what: str
    expected: str
    got: str
    ok: bool
    seconds: float
    note: str = ""


@dataclass
class Replay:
    """Events of one clip, each with the clip time (s) at which the camera would have raised it."""

    events: dict[str, Event] = field(default_factory=dict)
    raised_s: dict[str, float] = field(default_factory=dict)
    frames: int = 0
    detector_calls: int = 0
    tamper_reading: str = ""  # the tamper detector's last reading, to explain a miss

    def of_type(self, kind: str) -> list[Event]:
        return sorted((e for e in self.events.values() if e.type == kind), key=lambda e: e.start_us)


def pictures(path: Path, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """(clip time in µs, BGR picture at analysis size) at `fps`, sampled as `vigil analyze` does."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from sampled_pictures(container.decode(stream), fps)


def final_picture(path: Path) -> tuple[int, np.ndarray]:
    """The clip's very last frame (clip time in µs, BGR at analysis size), sampled or not."""
    last = None
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None:
                last = frame
    if last is None:
        raise SystemExit(f"{path}: no frames")
    return int(last.time * US), analysis_picture(last)


def replay(
    path: Path, settings: CameraAnalytics, detector: Detector, hold_last_s: float = 0.0
) -> Replay:
    """Run the pipeline over the clip; optionally keep sending its last frame for a while.

    The held frame is the clip's last one even when the sampling at the analysis rate skipped
    it: it shows the camera's state when the recording stopped, which is what it kept sending.
    """
    fps = settings.analysis.fps
    period_us = int(US / fps)
    result = Replay()
    pipeline: AnalysisPipeline | None = None

    def feed(ts_us: int, picture: np.ndarray) -> None:
        nonlocal pipeline
        height, width = picture.shape[:2]
        if pipeline is None:
            pipeline = AnalysisPipeline(path.stem, settings, detector, width, height)
        for update in pipeline.process(ts_us, picture):
            result.events[update.event.id] = update.event
            result.raised_s.setdefault(update.event.id, ts_us / US)

    last_us = 0
    for ts_us, picture in pictures(path, fps):
        feed(ts_us, picture)
        last_us = ts_us
    if hold_last_s > 0:
        final_us, final = final_picture(path)
        held_from = max(final_us, last_us + period_us)
        for step in range(int(hold_last_s * fps)):
            feed(held_from + step * period_us, final)
    if pipeline is not None:
        result.frames = pipeline.stats.frames
        result.detector_calls = pipeline.stats.detector_calls
        if pipeline.tamper is not None:
            result.tamper_reading = str(pipeline.tamper.last_reading)
    return result


def timed(run: Callable[[], list[Check]]) -> tuple[list[Check], float]:
    start = time.perf_counter()
    checks = run()
    return checks, time.perf_counter() - start


def _box(box: Box | None) -> str:
    return (
        "none"
        if box is None
        else "(" + ",".join(f"{v:.0f}" for v in (box.x1, box.y1, box.x2, box.y2)) + ")"
    )


def abandoned_backpack(detector: Detector, figures: dict[str, Any]) -> list[Check]:
    clip = "abandoned_backpack_indoor.mp4"
    path = REAL / clip
    settings = default_analytics()
    run = replay(path, settings, detector)
    # The command itself, so the figures are `vigil analyze`'s and not only this replay's.
    command = analyze_video(path, settings, detector, camera=path.stem)
    unattended = run.of_type("unattended_object")
    tamper = run.of_type("tamper")
    first = unattended[0] if unattended else None
    iou = first.box.iou(BAG) if first is not None and first.box is not None else 0.0
    figures[clip] = {
        "unattended": [
            {
                "start_s": round(e.start_us / US, 2),
                "raised_s": round(run.raised_s[e.id], 2),
                "label": e.label,
                "box": None
                if e.box is None
                else [round(v, 1) for v in (e.box.x1, e.box.y1, e.box.x2, e.box.y2)],
                "iou_bag": round(e.box.iou(BAG), 3) if e.box is not None else 0.0,
            }
            for e in unattended
        ],
        "tamper": len(tamper),
        "analyze_events": [(e["type"], e["start"]) for e in command["events"]],
        "frames": run.frames,
        "detector_calls": run.detector_calls,
    }
    command_count = sum(e["type"] == "unattended_object" for e in command["events"])
    timing = (
        f"start {first.start_us / US:.1f} s, raised {run.raised_s[first.id]:.1f} s, "
        f"label {first.label}"
        if first is not None
        else ""
    )
    return [
        Check(clip, "unattended events", "1", str(len(unattended)), len(unattended) == 1, 0,
              f"{timing}; `vigil analyze` path: {command_count}"),
        Check(clip, "unattended box vs bag", f"IoU >= {BAG_IOU} with {_box(BAG)}",
              f"{_box(first.box if first else None)} IoU {iou:.2f}", iou >= BAG_IOU, 0),
        Check(clip, "tamper events", "0", str(len(tamper)), not tamper, 0),
    ]  # fmt: skip


def occlusion(detector: Detector, figures: dict[str, Any]) -> list[Check]:
    clip = "tamper_occlusion.mp4"
    settings = CameraAnalytics.model_validate({"tamper": True})
    run = replay(REAL / clip, settings, detector, hold_last_s=HOLD_S)
    tamper = run.of_type("tamper")
    figures[clip] = {
        "extended": f"clip extended by holding its last frame for {HOLD_S:.0f} s",
        "tamper": [
            {
                "start_s": round(e.start_us / US, 2),
                "raised_s": round(run.raised_s[e.id], 2),
                "reason": e.attributes.get("reason"),
            }
            for e in tamper
        ],
        "frames": run.frames,
        "last_tamper_reading": run.tamper_reading,
    }
    reasons = [e.attributes.get("reason") for e in tamper]
    starts_ok = all(e.start_us / US > OCCLUSION_FROM_S for e in tamper)
    ok = len(tamper) == 1 and reasons == ["covered"] and starts_ok
    got = ", ".join(
        f"{r} from {e.start_us / US:.1f} s, raised {run.raised_s[e.id]:.1f} s"
        for e, r in zip(tamper, reasons, strict=True)
    )
    return [
        Check(clip, "tamper events", f"1 covered, start > {OCCLUSION_FROM_S:.2f} s",
              f"{len(tamper)}: {got or 'none'}", ok, 0,
              f"clip extended by holding its last frame {HOLD_S:.0f} s; "
              f"held frame reads {run.tamper_reading}"),
    ]  # fmt: skip


def people_clip(detector: Detector, figures: dict[str, Any], path: Path) -> list[Check]:
    clip = path.name
    settings = CameraAnalytics.model_validate(PEOPLE_SETTINGS)
    run = replay(path, settings, detector)
    people = [e for e in run.of_type("intrusion") if e.label == "person"]
    tamper = run.of_type("tamper")
    unattended = run.of_type("unattended_object")
    figures[clip] = {
        "person_events": len(people),
        "person_starts_s": [round(e.start_us / US, 1) for e in people],
        "tamper": [(round(e.start_us / US, 1), e.attributes.get("reason")) for e in tamper],
        "unattended": [(round(e.start_us / US, 1), e.label, _box(e.box)) for e in unattended],
        "frames": run.frames,
        "detector_calls": run.detector_calls,
    }
    tamper_note = "; ".join(
        f"{e.attributes.get('reason')} from {e.start_us / US:.1f} s" for e in tamper
    )
    unattended_note = "; ".join(
        f"{e.label or 'unknown'} {_box(e.box)} from {e.start_us / US:.1f} s" for e in unattended
    )
    return [
        Check(clip, "person events", "> 0", str(len(people)), bool(people), 0),
        Check(clip, "tamper events", "0", str(len(tamper)), not tamper, 0, tamper_note),
        Check(clip, "unattended events", "0", str(len(unattended)), not unattended, 0,
              unattended_note),
    ]  # fmt: skip


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
                  precision >= MIN_PRECISION and recall >= MIN_RECALL, 0)
        )  # fmt: skip
    return checks


def main() -> int:
    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else str(MODEL)
    if model == str(MODEL) and not MODEL.is_file():
        print(f"{MODEL} is missing; set VIGIL_SHARED to the shared assets directory")
        return 2
    detector = load_detector(DetectorSettings(model=model))
    print(f"detector: {detector.name} ({model})", file=sys.stderr)
    figures: dict[str, Any] = {}
    suites: list[Callable[[], list[Check]]] = [
        lambda: abandoned_backpack(detector, figures),
        lambda: occlusion(detector, figures),
        *(
            (lambda p=path: people_clip(detector, figures, p))
            for path in (
                REAL / "shopfront_cctv.mp4",
                REAL / "indoor_people.mp4",
                SHARED / "data" / "vtest.avi",
            )
        ),
        lambda: mot17(detector, figures),
    ]
    checks: list[Check] = []
    seconds: dict[str, float] = {}
    for suite in suites:
        found, took = timed(suite)
        for check in found:
            check.seconds = took
        seconds[found[0].clip] = round(took, 1)
        checks += found
        print(f"... {found[0].clip} done in {took:.1f} s", file=sys.stderr, flush=True)
    header = f"{'clip':<30} {'check':<32} {'expected':<34} {'got':<44} {'':<4} {'s':>6}"
    print(header)
    print("-" * len(header))
    for c in checks:
        print(f"{c.clip:<30} {c.what:<32} {c.expected:<34} {c.got:<44} "
              f"{'PASS' if c.ok else 'FAIL':<4} {c.seconds:>6.1f}")  # fmt: skip
        if c.note:
            print(f"{'':<30}   {c.note}")
    passed = sum(c.ok for c in checks)
    print(f"{passed}/{len(checks)} checks pass")
    summary = {
        "passed": passed,
        "checks": len(checks),
        "results": [
            {"clip": c.clip, "check": c.what, "expected": c.expected, "got": c.got, "ok": c.ok}
            for c in checks
        ],
        "seconds": seconds,
        "figures": figures,
    }
    print(json.dumps(summary, default=str))
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
