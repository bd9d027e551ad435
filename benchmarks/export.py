"""Export benchmark: one 1080p camera's footage exported as originals only and redacted,
against a plain ffmpeg decode and H.264 encode of the same footage in the same run.

    .venv/bin/python benchmarks/export.py [--minutes 60] [--segment-seconds 10]

The footage is real (the sample video, upscaled to 1920x1080 at 15 fps) recorded into Vigil
segments through Vigil's own segment writer and index. Then, one after the other on the same
machine: `ffmpeg -c:v libx264 -preset veryfast -crf 23` over the same segments (the limit: a
transcode with nothing covered), the unredacted export (copy, hash, seal), the redacted export
(decode, detect people and faces, fill, burn in the time, encode), and the package's own
verify.py. Time is wall clock; CPU is user + system of every process involved. The target: the
redacted export within 2x the plain transcode.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.assets import MODEL
from support.media import h264_clip
from vigil.audit import AuditRecord
from vigil.config import load_config
from vigil.export.names import package_name
from vigil.export.worker import Exporter
from vigil.media.segment import SegmentWriter
from vigil.storage.evidence import CaseStore
from vigil.storage.exports import ExportStore
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US, now_us

FPS = 15


def cpu() -> float:
    """User + system seconds of this process and its waited-for children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(work: Callable[[], Any]) -> tuple[float, float]:
    wall, used = time.perf_counter(), cpu()
    work()
    return time.perf_counter() - wall, cpu() - used


def record(clip: Path, layout: Layout, index: SegmentIndex, seconds: float, every: float) -> int:
    """The clip as `every`-second segments of camera `cam`, indexed; returns their count."""
    start = now_us() - int((seconds + 60) * US)
    count, writer, at = 0, None, start
    interval = US // FPS
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            if at - start >= seconds * US:
                break
            if packet.is_keyframe and (writer is None or at - writer.start_us >= every * US):
                if writer is not None:
                    _close(writer, at, index, layout)
                    count += 1
                writer = SegmentWriter(layout.absolute(layout.relative_path("cam", at)), stream, at)
            assert writer is not None
            writer.write(packet, at)
            at += interval
    if writer is not None:
        _close(writer, at, index, layout)
        count += 1
    return count


def _close(writer: SegmentWriter, at: int, index: SegmentIndex, layout: Layout) -> None:
    closed = writer.finish(at)
    relative = str(closed.path.relative_to(layout.recordings))
    index.add("cam", writer.start_us, closed.end_us, relative, closed.bytes, closed.sha256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="vigil-export-bench-"))
    try:
        cache = Path(tempfile.gettempdir()) / "vigil-bench-media"
        cache.mkdir(exist_ok=True)
        print(f"preparing {args.minutes:g} min of 1080p{FPS} footage ...", flush=True)
        clip = h264_clip(cache, width=1920, height=1080, fps=FPS, gop_seconds=1.0,
                         loop_to_seconds=seconds)  # fmt: skip
        document: dict[str, Any] = {
            "storage": {"path": str(work / "storage"), "min_free": "0%"},
            "cameras": {
                "cam": {"main": "rtsp://127.0.0.1:1/cam", "site": "bench", "purpose": "benchmark"}
            },
        }
        if MODEL.exists():
            document["detector"] = {"model": str(MODEL)}
        (work / "vigil.yaml").write_text(yaml.safe_dump(document))
        config = load_config(work / "vigil.yaml")
        layout = Layout(config.storage.path)
        layout.create()
        exporter = Exporter(config)
        engine = exporter.store.engine
        index = SegmentIndex(engine)
        segments = record(clip, layout, index, seconds, args.segment_seconds)
        found = index.find("cam")
        size = sum(s.bytes for s in found)
        print(f"{segments} segments, {size / 1e9:.2f} GB", flush=True)

        def audit(connection: Any, action: str, detail: Any) -> int:
            record = AuditRecord("bench", "investigator", action, "ok", "bench", ["cam"],
                                 detail=detail)  # fmt: skip
            return exporter.builder.audit_log.append(record, connection).seq

        CaseStore(engine).open("BENCH-1", "benchmark", "", "bench", audit)
        store = ExportStore(engine)

        def export(redacted: bool) -> Path:
            job = store.request("BENCH-1", "cam", found[0].start_us, found[-1].end_us, redacted,
                                "benchmark run", "bench", audit)  # fmt: skip
            if not redacted:
                store.approve(job.id, "second", audit)
            assert exporter.run_once()
            finished = store.get(job.id)
            assert finished is not None and finished.state == "complete", finished
            return layout.exports / package_name(job.id)

        listing = work / "segments.txt"
        listing.write_text("".join(f"file '{layout.absolute(s.path)}'\n" for s in found))
        transcode = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f",
                     "concat", "-safe", "0", "-i", str(listing), "-an", "-c:v", "libx264",
                     "-preset", "veryfast", "-crf", "23", str(work / "plain.mp4")]  # fmt: skip
        frames = round(seconds * FPS)
        ffmpeg = measured(lambda: subprocess.run(transcode, check=True))
        exporter.redactor()  # the detector's loading is not the export's work
        originals: list[Path] = []
        copy = measured(lambda: originals.append(export(False)))
        redacted: list[Path] = []
        redaction = measured(lambda: redacted.append(export(True)))
        package_bytes = sum(p.stat().st_size for p in redacted[0].rglob("*") if p.is_file())
        verify = [sys.executable, "-I", "-S", str(redacted[0] / "verify.py"), str(redacted[0])]
        checking = measured(lambda: subprocess.run(verify, check=True, capture_output=True))

        print(f"\n{'':<34}{'wall s':>9}{'CPU s':>9}{'fps':>9}")
        rows = [
            ("ffmpeg decode + x264 encode", ffmpeg),
            ("export, originals only", copy),
            ("export, redacted", redaction),
            ("verify.py (redacted package)", checking),
        ]
        for name, (wall, used) in rows:
            print(f"{name:<34}{wall:>9.1f}{used:>9.1f}{frames / wall:>9.1f}")
        print(f"\nredacted export / plain transcode: {redaction[0] / ffmpeg[0]:.2f}x wall, "
              f"{redaction[1] / ffmpeg[1]:.2f}x CPU (target: under 2x wall)")  # fmt: skip
        print(f"verify.py: {checking[0] / (package_bytes / 1e9):.1f} s per GB "
              f"({package_bytes / 1e9:.2f} GB package)")  # fmt: skip
        detections = exporter.redactor().detections
        print(f"detector calls: {detections} ({detections / seconds:.1f} per second of footage)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
