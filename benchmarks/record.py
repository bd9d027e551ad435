"""Recording benchmark: N cameras of 1080p H.264 at 15 fps recorded at once, against ffmpeg.

    .venv/bin/python benchmarks/record.py [--cameras 32,64,96] [--seconds 30] [--source rtsp]

Each camera reads the same 1080p15 clip (real footage, upscaled), looping. With `--source
file` (the default) every camera reads the file at real-time pace; with `--source rtsp` a real
GStreamer RTSP server on loopback (tests/support/rtsp_server.py, Debian's python3) serves it
as N live cameras, one mount each, and Vigil and the baseline read the same RTSP URLs.
For each N, Vigil records the N cameras while, at the same time, N `ffmpeg -c copy -f segment`
processes record the same inputs (the baseline): both run under the same machine load, and CPU
is measured for both over the same steady window, once every Vigil camera is recording
(start-up excluded); the RTSP server's own CPU is reported apart. A camera has "no gap" when
its segments abut and it recorded at least 98% of the frames the window should hold. Memory
is the peak RSS (and PSS, which counts shared libraries once) per camera process. Start-up is
the time from `vigil run` to every camera recording (`online`: its first packet is written).
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

from support.fixtures import RtspServer, free_port
from support.media import h264_clip
from vigil.media.probe import probe
from vigil.storage.database import connect
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.status import StatusStore

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


@dataclass
class Run:
    vigil: Sample
    baseline: Sample
    server: Sample | None  # the RTSP server's own CPU and memory (per camera), rtsp mode only
    gapless: int
    startup_s: float  # from `vigil run` to every camera online


def start_ffmpeg(inputs: list[str], work: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for n, source in enumerate(inputs):
        out = work / f"ffmpeg{n:03d}"
        out.mkdir()
        reading = (["-rtsp_transport", "tcp", "-i", source] if source.startswith("rtsp:")
                   else ["-re", "-stream_loop", "-1", "-i", source])  # fmt: skip
        processes.append(subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *reading, "-an", "-c",
             "copy", "-f", "segment", "-segment_time", "10", "-reset_timestamps", "1",
             str(out / "%06d.ts")],
        ))  # fmt: skip
    return processes


def run_both(inputs: list[str], seconds: float, work: Path, server: psutil.Process | None) -> Run:
    cameras = len(inputs)
    storage = work / "vigil"
    config = work / "vigil.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(storage), "min_free": "1GB"},
        "api": {"enabled": False},  # what is measured is recording/analysis alone
        "cameras": {f"cam{n:03d}": {"main": source, "purpose": "benchmark"}
                    for n, source in enumerate(inputs)},
    }))  # fmt: skip
    launched = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "run", "-c", str(config), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(work / "vigil.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    ffmpeg = start_ffmpeg(inputs, work)
    root = psutil.Process(process.pid)
    baseline = [psutil.Process(p.pid) for p in ffmpeg]
    engine = None
    startup_s = float("nan")
    database = Layout(storage).database
    try:
        deadline = time.monotonic() + WARMUP_LIMIT
        while time.monotonic() < deadline:  # every camera has closed a segment: all recording
            time.sleep(1)
            if database.exists():
                engine = engine or connect(f"sqlite:///{database}")
                try:
                    states = StatusStore(engine).cameras()
                    online = sum(s.get("state") == "online" for s in states.values())
                    if online == cameras and startup_s != startup_s:
                        startup_s = time.monotonic() - launched
                    if len(SegmentIndex(engine).totals()) == cameras:
                        break
                except Exception:
                    continue
        else:
            raise RuntimeError(f"{cameras} cameras did not all start within {WARMUP_LIMIT} s")
        started = time.time()
        groups = [lambda: tree(root), lambda: baseline]
        if server is not None:
            groups.append(lambda: [server])
        samples = window(groups, seconds, cameras)
        ended = time.time()
    finally:
        process.send_signal(signal.SIGTERM)
        for p in ffmpeg:
            p.send_signal(signal.SIGINT)
        process.wait(120)
        for p in ffmpeg:
            p.wait(60)
    assert engine is not None
    gapless = count_gapless(engine, Layout(storage), cameras, started, ended)
    server_sample = samples[2] if server is not None else None
    return Run(samples[0], samples[1], server_sample, gapless, startup_s)


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
    parser.add_argument("--source", choices=["file", "rtsp"], default="file",
                        help="paced files, or a real RTSP server on loopback")  # fmt: skip
    args = parser.parse_args()
    clip = h264_clip(args.clip_cache, width=1920, height=1080, fps=FPS, gop_seconds=1.0,
                     seconds=60)  # fmt: skip
    bitrate = clip.stat().st_size * 8 / 60
    print(f"input: {clip.name}, 1920x1080 H.264 {FPS} fps, {bitrate / 1e6:.1f} Mbit/s, "
          f"source {args.source}, window {args.seconds:g} s per run")  # fmt: skip
    print(f"{'N':>4} {'vigil cpu-s/cam-h':>18} {'ffmpeg cpu-s/cam-h':>19} {'ratio':>6} "
          f"{'gapless':>8} {'RSS MB/cam':>11} {'PSS MB/cam':>11} {'ffmpeg RSS':>11} "
          f"{'start-up s':>10} {'server cpu-s/cam-h':>19}")  # fmt: skip
    results = []
    for cameras in (int(n) for n in args.cameras.split(",")):
        work = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
        server = None
        try:
            if args.source == "rtsp":
                server = RtspServer({f"cam{n:03d}": clip for n in range(cameras)}, free_port())
                server.start(timeout=60)
                assert server.pid is not None
                inputs = [server.url(f"cam{n:03d}") for n in range(cameras)]
                run = run_both(inputs, args.seconds, work, psutil.Process(server.pid))
            else:
                run = run_both([clip.as_uri()] * cameras, args.seconds, work, None)
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(work, ignore_errors=True)
        hours = cameras * args.seconds / 3600
        vigil, ffmpeg = run.vigil, run.baseline
        row = {
            "cameras": cameras,
            "source": args.source,
            "vigil_cpu_s_per_camera_hour": vigil.cpu / hours,
            "ffmpeg_cpu_s_per_camera_hour": ffmpeg.cpu / hours,
            "ratio": vigil.cpu / ffmpeg.cpu if ffmpeg.cpu else float("inf"),
            "gapless_cameras": run.gapless,
            "vigil_rss_mb_per_camera": vigil.rss_peak / 1e6,
            "vigil_pss_mb_per_camera": vigil.pss_peak / 1e6,
            "ffmpeg_rss_mb_per_camera": ffmpeg.rss_peak / 1e6,
            "startup_s": run.startup_s,
            "server_cpu_s_per_camera_hour": run.server.cpu / hours if run.server else None,
        }
        results.append(row)
        server_cpu = "-" if run.server is None else f"{run.server.cpu / hours:.0f}"
        print(f"{cameras:>4} {row['vigil_cpu_s_per_camera_hour']:>18.0f} "
              f"{row['ffmpeg_cpu_s_per_camera_hour']:>19.0f} {row['ratio']:>6.2f} "
              f"{run.gapless:>4}/{cameras:<3} {row['vigil_rss_mb_per_camera']:>11.1f} "
              f"{row['vigil_pss_mb_per_camera']:>11.1f} {row['ffmpeg_rss_mb_per_camera']:>11.1f} "
              f"{run.startup_s:>10.1f} {server_cpu:>19}", flush=True)  # fmt: skip
    sustained = [r["cameras"] for r in results if r["gapless_cameras"] == r["cameras"]]
    print(f"largest N recorded with no gap: {max(sustained) if sustained else 'none'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
