"""Recording benchmark: N cameras of 1080p H.264 at 15 fps recorded at once, against ffmpeg.

    .venv/bin/python benchmarks/record.py [--cameras 8,16,32,64] [--seconds 30]

Each camera reads the same 1080p15 clip (real footage, upscaled) at real-time pace, looping.
For each N, Vigil records the N cameras while, at the same time, N `ffmpeg -re -c copy -f
segment` processes record the same inputs (the baseline): both run under the same machine
load, and CPU is measured for both over the same steady window, once every Vigil camera is
recording (start-up excluded). A camera has "no gap"
when its segments abut and it recorded at least 98% of the frames the window should hold.
Memory is the peak RSS (and PSS, which counts shared libraries once) per camera process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import itertools

from support.media import h264_clip
from vigil.media.probe import probe
from vigil.storage.database import connect
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout

FPS = 15
WARMUP_LIMIT = 300.0


@dataclass
class Sample:
    cpu: float  # seconds, user + system, over the window
    rss_peak: float  # bytes per camera
    pss_peak: float


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_of(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds per process from the scheduler's nanosecond run time (/proc/*/schedstat),
    summed over its threads: tick-based user/system times are too coarse for processes that
    wake for a fraction of a millisecond fifteen times a second."""
    seconds = {}
    for process in processes:
        total = 0
        try:
            for task in Path(f"/proc/{process.pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        seconds[process.pid] = total / 1e9
    return seconds


def window(groups, seconds: float, cameras: int) -> list[Sample]:  # type: ignore[no-untyped-def]
    """CPU over `seconds` for each group of processes (a callable listing the live ones),
    sampling their memory once a second."""
    before = [cpu_of(group()) for group in groups]
    rss_peak = [0.0] * len(groups)
    pss_peak = [0.0] * len(groups)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        for n, group in enumerate(groups):
            rss = pss = 0
            for process in group():
                try:
                    memory = process.memory_full_info()
                    rss += memory.rss
                    pss += memory.pss
                except psutil.NoSuchProcess:
                    pass
            rss_peak[n] = max(rss_peak[n], rss / cameras)
            pss_peak[n] = max(pss_peak[n], pss / cameras)
    samples = []
    for n, group in enumerate(groups):
        after = cpu_of(group())
        cpu = sum(after[pid] - before[n].get(pid, 0.0) for pid in after)
        samples.append(Sample(cpu, rss_peak[n], pss_peak[n]))
    return samples


def start_ffmpeg(clip: Path, cameras: int, work: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for n in range(cameras):
        out = work / f"ffmpeg{n:03d}"
        out.mkdir()
        processes.append(subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop",
             "-1", "-i", str(clip), "-an", "-c", "copy", "-f", "segment", "-segment_time", "10",
             "-reset_timestamps", "1", str(out / "%06d.ts")],
        ))  # fmt: skip
    return processes


def run_both(clip: Path, cameras: int, seconds: float, work: Path) -> tuple[Sample, int, Sample]:
    storage = work / "vigil"
    config = work / "vigil.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(storage), "min_free": "1GB"},
        "api": {"enabled": False},  # what is measured is recording/analysis alone
        "cameras": {f"cam{n:03d}": {"main": clip.as_uri()} for n in range(cameras)},
    }))  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "run", "-c", str(config), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(work / "vigil.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    ffmpeg = start_ffmpeg(clip, cameras, work)
    root = psutil.Process(process.pid)
    baseline = [psutil.Process(p.pid) for p in ffmpeg]
    engine = None
    try:
        deadline = time.monotonic() + WARMUP_LIMIT
        while time.monotonic() < deadline:  # every camera has closed a segment: all recording
            time.sleep(2)
            if (storage / "vigil.db").exists():
                engine = engine or connect(f"sqlite:///{storage / 'vigil.db'}")
                try:
                    if len(SegmentIndex(engine).totals()) == cameras:
                        break
                except Exception:
                    continue
        else:
            raise RuntimeError(f"{cameras} cameras did not all start within {WARMUP_LIMIT} s")
        started = time.time()
        vigil, base = window([lambda: tree(root), lambda: baseline], seconds, cameras)
        ended = time.time()
    finally:
        process.send_signal(signal.SIGTERM)
        for p in ffmpeg:
            p.send_signal(signal.SIGINT)
        process.wait(120)
        for p in ffmpeg:
            p.wait(60)
    assert engine is not None
    return vigil, count_gapless(engine, Layout(storage), cameras, started, ended), base


def count_gapless(engine, layout: Layout, cameras: int, start: float, end: float) -> int:  # type: ignore[no-untyped-def]
    """Cameras whose window [start, end] is covered by abutting segments holding all its frames."""
    index = SegmentIndex(engine)
    good = 0
    for n in range(cameras):
        segments = index.find(f"cam{n:03d}", int(start * 1e6), int(end * 1e6))
        if not segments:
            continue
        abut = all(b.start_us == a.end_us for a, b in itertools.pairwise(segments))
        span = (segments[-1].end_us - segments[0].start_us) / 1e6
        frames = 0
        for segment in segments:
            found = probe(layout.absolute(segment.path), decode=False)
            frames += found.packets if found else 0
        covers = segments[0].start_us <= start * 1e6 and segments[-1].end_us >= end * 1e6 - 12e6
        if abut and covers and frames >= 0.98 * FPS * span:
            good += 1
    return good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="8,16,32,64", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window per run")
    parser.add_argument(
        "--clip-cache", type=Path, default=Path(tempfile.gettempdir()) / "vigil-bench"
    )
    args = parser.parse_args()
    clip = h264_clip(args.clip_cache, width=1920, height=1080, fps=FPS, gop_seconds=1.0,
                     seconds=60)  # fmt: skip
    bitrate = clip.stat().st_size * 8 / 60
    print(f"input: {clip.name}, 1920x1080 H.264 {FPS} fps, {bitrate / 1e6:.1f} Mbit/s, "
          f"window {args.seconds:g} s per run")  # fmt: skip
    print(f"{'N':>4} {'vigil cpu-s/cam-h':>18} {'ffmpeg cpu-s/cam-h':>19} {'ratio':>6} "
          f"{'gapless':>8} {'RSS MB/cam':>11} {'PSS MB/cam':>11} {'ffmpeg RSS':>11}")  # fmt: skip
    results = []
    for cameras in (int(n) for n in args.cameras.split(",")):
        work = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
        try:
            vigil, gapless, ffmpeg = run_both(clip, cameras, args.seconds, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        hours = cameras * args.seconds / 3600
        row = {
            "cameras": cameras,
            "vigil_cpu_s_per_camera_hour": vigil.cpu / hours,
            "ffmpeg_cpu_s_per_camera_hour": ffmpeg.cpu / hours,
            "ratio": vigil.cpu / ffmpeg.cpu if ffmpeg.cpu else float("inf"),
            "gapless_cameras": gapless,
            "vigil_rss_mb_per_camera": vigil.rss_peak / 1e6,
            "vigil_pss_mb_per_camera": vigil.pss_peak / 1e6,
            "ffmpeg_rss_mb_per_camera": ffmpeg.rss_peak / 1e6,
        }
        results.append(row)
        print(f"{cameras:>4} {row['vigil_cpu_s_per_camera_hour']:>18.0f} "
              f"{row['ffmpeg_cpu_s_per_camera_hour']:>19.0f} {row['ratio']:>6.2f} "
              f"{gapless:>4}/{cameras:<3} {row['vigil_rss_mb_per_camera']:>11.1f} "
              f"{row['vigil_pss_mb_per_camera']:>11.1f} {row['ffmpeg_rss_mb_per_camera']:>11.1f}",
              flush=True)  # fmt: skip
    sustained = [r["cameras"] for r in results if r["gapless_cameras"] == r["cameras"]]
    print(f"largest N recorded with no gap: {max(sustained) if sustained else 'none'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
