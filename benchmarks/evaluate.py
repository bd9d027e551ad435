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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.assets import MODEL, REAL
from support.devset import (
    CLIPS,
    GENERAL,
    SCORED,
    Clip,
    Replay,
    Score,
    clip_path,
    normalised,
    replay,
    score,
)
from support.mot17 import frames_with_truth, match
from vigil.analytics.detection.base import Detector
from vigil.analytics.detection.factory import load_detector
from vigil.box import Box
from vigil.events.model import Event
from vigil.settings.analytics import CameraAnalytics
from vigil.settings.detector import DetectorSettings

# The bar tests/test_detection.py holds YOLOX to on MOT17-mini (1080p letterboxed to 416).
MIN_PRECISION, MIN_RECALL = 0.7, 0.35


@dataclass
class Check:
    clip: str
    what: str
    expected: str
    got: str
    ok: bool


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
    path = clip_path(clip)
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
