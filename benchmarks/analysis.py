"""Analysis benchmark: how many cameras one machine analyses at the default operating point.

    .venv/bin/python benchmarks/analysis.py [--cameras 4,8,16,24] [--seconds 40]

Each camera is a `file://` source of a 640x360 H.264 15 fps clip of real footage (vtest.avi
and, where present, the indoor-people and shop-front clips), read at real-time pace and
looping, recorded as in production and analysed at 5 fps with a whole-frame person intrusion
zone and tamper detection, against one detector service (yolox_nano, one intra-op thread,
one worker per core, as `vigil run` starts it).

For each N, `vigil run` starts; once every camera is online and analysing (and its 10 s rate
window is full), status is sampled every 2 s over the window. N "keeps up" when, on every
camera, analysis runs at >= 4.5 pictures/s and its dropped count grows by at most 3% of the
packets offered, and the lag from a picture's time to its analysis has p95 <= 2 s over all
cameras and samples. CPU is the scheduler's run time of the whole process tree and of the
detector service alone. The service's inference rate is not reported by Vigil, so it is
estimated from the service's CPU time and the raw per-image cost (an upper bound: it also
counts transport and letterboxing).

The detector service's throughput ratio to raw ONNX Runtime (one session run by one thread per
service worker, one intra-op thread each, graph optimisation ALL, 416x416 letterboxed real
frames) is measured in the same run with benchmarks/detector.py's functions, before the
cameras run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
import detector as detector_bench  # noqa: E402  (benchmarks/detector.py)
from record import cpu_of, tree  # noqa: E402
from support.media import ENV_VIDEO, h264_clip  # noqa: E402
from vigil.analytics.detection.base import open_session  # noqa: E402
from vigil.analytics.detection.yolox import YoloxDetector  # noqa: E402
from vigil.config import load_config  # noqa: E402
from vigil.settings.detector import DetectorSettings  # noqa: E402
from vigil.storage.database import connect  # noqa: E402
from vigil.storage.report import status_report  # noqa: E402

SHARED = detector_bench.SHARED
MODEL = detector_bench.MODEL
SOURCES = (
    SHARED / "data" / "vtest.avi",
    SHARED / "data" / "real" / "indoor_people.mp4",
    SHARED / "data" / "real" / "shopfront_cctv.mp4",
)
FPS = 15
ANALYSIS_FPS = 5.0
MIN_FPS = 4.5
MAX_LAG_P95 = 2.0
MAX_DROPPED_SHARE = 0.03
SAMPLE_EVERY = 2.0
WARMUP_LIMIT = 180.0
RATE_WINDOW = 10.0  # seconds over which Vigil counts analysed pictures per second
WHOLE_FRAME = [[0, 0], [1, 0], [1, 1], [0, 1]]


@dataclass
class Run:
    cameras: int
    seconds: float
    fps_min: float
    fps_mean: float
    dropped_share_max: float  # of the packets offered to analysis in the window
    lag_p50: float
    lag_p95: float
    lag_max: float
    cpu_cores: float  # whole tree, CPU seconds per second
    detector_cores: float  # the detector service alone
    detections_per_s: float  # estimated from detector CPU and the raw per-image cost
    warmup_s: float

    @property
    def keeps_up(self) -> bool:
        return (
            self.fps_min >= MIN_FPS
            and self.dropped_share_max <= MAX_DROPPED_SHARE
            and self.lag_p95 <= MAX_LAG_P95
        )


def clips(cache: Path) -> list[Path]:
    """One 640x360 clip per source present; h264_clip reads its source from the env var and
    keys its cache by parameters only, so each source gets its own cache directory."""
    made = []
    previous = os.environ.get(ENV_VIDEO)
    try:
        for source in (s for s in SOURCES if s.is_file()):
            os.environ[ENV_VIDEO] = str(source)
            made.append(h264_clip(cache / source.stem, width=640, height=360, fps=FPS,
                                  gop_seconds=1.0, seconds=60))  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop(ENV_VIDEO, None)
        else:
            os.environ[ENV_VIDEO] = previous
    return made


def write_config(work: Path, inputs: list[Path], cameras: int) -> Path:
    camera = {
        "analysis": {"fps": ANALYSIS_FPS},
        "zones": {"scene": {"polygon": WHOLE_FRAME, "intrusion": {"objects": ["person"]}}},
        "tamper": True,
    }
    config = work / "vigil.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(work / "vigil"), "min_free": "1GB"},
        "api": {"enabled": False},  # what is measured is recording/analysis alone
        "detector": {"model": str(MODEL)},
        "cameras": {f"cam{n:03d}": {"main": inputs[n % len(inputs)].as_uri(),
                                    "purpose": "benchmark", **camera}
                    for n in range(cameras)},
    }))  # fmt: skip
    return config


def analysis_of(config: Any) -> dict[str, dict[str, Any] | None]:
    try:
        report = status_report(config, connect(config.database_url()))
    except Exception:  # the database may not exist yet, or be busy
        return {}
    return {
        name: cam["analysis"] if cam["state"] == "online" else None
        for name, cam in report["cameras"].items()
    }


def detector_service(root: psutil.Process) -> list[psutil.Process]:
    found = []
    for process in tree(root):
        try:
            if "vigil.analytics.detection.service" in process.cmdline():
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def measure(inputs: list[Path], cameras: int, seconds: float, raw_rate: float, work: Path) -> Run:
    config_path = write_config(work, inputs, cameras)
    config = load_config(config_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "run", "-c", str(config_path), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(work / "vigil.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    root = psutil.Process(process.pid)
    began = time.monotonic()
    try:
        while True:  # every camera online and analysing
            if process.poll() is not None:
                log = (work / "vigil.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"vigil run exited with {process.returncode}:\n{log}")
            if time.monotonic() - began > WARMUP_LIMIT:
                raise SystemExit(f"{cameras} cameras were not all analysing within "
                                 f"{WARMUP_LIMIT:g} s; see {work / 'vigil.log'}")  # fmt: skip
            state = analysis_of(config)
            if len(state) == cameras and all(a and a["fps"] for a in state.values()):
                break
            time.sleep(SAMPLE_EVERY)
        warmup = time.monotonic() - began
        time.sleep(RATE_WINDOW)  # so the reported rate covers steady running only
        first = analysis_of(config)
        cpu_before = cpu_of(tree(root))
        service_before = cpu_of(detector_service(root))
        start = time.monotonic()
        fps: dict[str, list[float]] = {name: [] for name in first}
        lags: list[float] = []
        last = first
        while time.monotonic() - start < seconds:
            time.sleep(SAMPLE_EVERY)
            sample = analysis_of(config)
            for name in fps:
                analysis = sample.get(name)
                fps[name].append((analysis["fps"] or 0.0) if analysis else 0.0)
                if analysis and analysis["lag"] is not None:
                    lags.append(analysis["lag"])
            last = sample or last
        elapsed = time.monotonic() - start
        cpu_after = cpu_of(tree(root))
        service_after = cpu_of(detector_service(root))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    offered = FPS * elapsed
    dropped = [
        ((last.get(n) or {}).get("dropped") or 0) - ((first.get(n) or {}).get("dropped") or 0)
        for n in first
    ]
    cpu = sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after) / elapsed
    service = sum(service_after[p] - service_before.get(p, 0.0) for p in service_after) / elapsed
    means = [statistics.fmean(v) if v else 0.0 for v in fps.values()]
    ordered = sorted(lags) or [float("inf")]
    return Run(
        cameras=cameras,
        seconds=elapsed,
        fps_min=min(means),
        fps_mean=statistics.fmean(means),
        dropped_share_max=max(dropped) / offered,
        lag_p50=ordered[len(ordered) // 2],
        lag_p95=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        lag_max=ordered[-1],
        cpu_cores=cpu,
        detector_cores=service,
        detections_per_s=service * raw_rate,
        warmup_s=warmup,
    )


def detector_ratio(images: int) -> tuple[float, dict[int, float]]:
    """Raw ONNX Runtime images/s (mean of before and after) and the service's per client count."""
    detector = YoloxDetector(open_session(MODEL, threads=1))
    pictures = detector_bench.letterboxed_frames(detector, images)
    workers = DetectorSettings().workers  # as `vigil run` starts the service
    before = detector_bench.raw_throughput(detector, pictures, workers)
    service: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        address = Path(tmp) / "detector.sock"
        process = detector_bench.start_service(address, MODEL, workers)
        try:
            for clients in (1, 2):
                service[clients] = detector_bench.service_throughput(address, pictures, clients)
        finally:
            process.terminate()
            process.wait(timeout=10)
    after = detector_bench.raw_throughput(detector, pictures, workers)
    return (before + after) / 2, service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="4,8,16,24", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=40.0, help="measuring window per run")
    parser.add_argument("--images", type=int, default=120, help="pictures for the raw limit")
    parser.add_argument(
        "--clip-cache", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench"
    )
    args = parser.parse_args()
    if not MODEL.is_file():
        raise SystemExit(f"{MODEL} is missing; set VIGIL_SHARED to the shared assets directory")
    inputs = clips(args.clip_cache)
    print(f"inputs: {', '.join(p.parent.name for p in inputs)} as 640x360 H.264 {FPS} fps; "
          f"analysis {ANALYSIS_FPS:g} fps, whole-frame person intrusion, tamper, recording on; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (shared "
          f"machine: figures are noisy)")  # fmt: skip

    raw, service = detector_ratio(args.images)
    best = max(service.values())
    print(f"raw ONNX Runtime {MODEL.name} 416x416, a thread per worker: {raw:.1f} images/s; "
          f"detector "
          f"service: " + ", ".join(f"{k} client(s) {v:.1f}/s" for k, v in service.items())
          + f"; service/raw {best / raw:.2f} (target 0.80)", flush=True)  # fmt: skip

    print(f"{'N':>3} {'fps min':>7} {'fps mean':>8} {'drop% max':>9} {'lag p50':>7} "
          f"{'lag p95':>7} {'lag max':>7} {'cpu cores':>9} {'det cores':>9} {'det img/s':>9} "
          f"{'det/raw':>7} {'warmup':>6}  keeps up")  # fmt: skip
    runs = []
    for cameras in (int(n) for n in args.cameras.split(",")):
        work = Path(tempfile.mkdtemp(prefix="vigil-bench-analysis-"))
        try:
            run = measure(inputs, cameras, args.seconds, raw, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        runs.append(run)
        print(f"{cameras:>3} {run.fps_min:>7.2f} {run.fps_mean:>8.2f} "
              f"{100 * run.dropped_share_max:>9.1f} {run.lag_p50:>7.2f} {run.lag_p95:>7.2f} "
              f"{run.lag_max:>7.2f} {run.cpu_cores:>9.2f} {run.detector_cores:>9.2f} "
              f"{run.detections_per_s:>9.1f} {run.detections_per_s / raw:>7.2f} "
              f"{run.warmup_s:>5.0f}s  {'yes' if run.keeps_up else 'NO'}", flush=True)  # fmt: skip
    kept = [r.cameras for r in runs if r.keeps_up]
    print(
        f"largest N that keeps up: {max(kept) if kept else 'none'} (target 24); "
        f"det img/s is estimated from the service's CPU time x raw images per CPU-second"
    )
    print(json.dumps({
        "raw_images_per_s": raw,
        "service_images_per_s": service,
        "service_over_raw": best / raw,
        "largest_keeping_up": max(kept) if kept else None,
        "runs": [{**vars(r), "keeps_up": r.keeps_up} for r in runs],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
