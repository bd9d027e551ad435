"""Masked viewing benchmark: what one viewer of a camera with privacy masks costs (decode, fill,
H.264 encode) against the zero-copy remux an unmasked camera gets, at 360p and 1080p.

    .venv/bin/python benchmarks/masked.py [--seconds 60]

Both paths serve the same recorded segments (real footage, the sample video at 15 fps) as
the fragmented MP4 the console plays; live view runs the same per-frame work on the file being
written. CPU is user + system of this process (the encoder's threads included), per hour of
footage served, measured in one run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.media import h264_clip
from vigil.masks import PrivacyMasks
from vigil.playback.masked import masked_fmp4
from vigil.playback.remux import fragmented_mp4

FPS = 15
MASK = PrivacyMasks([[(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]])
SIZES = {"360p": (640, 360), "1080p": (1920, 1080)}


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def serve(body: object) -> tuple[float, float, int]:
    wall, used, sent = time.perf_counter(), cpu(), 0
    for chunk in body:  # type: ignore[attr-defined]
        sent += len(chunk)
    return time.perf_counter() - wall, cpu() - used, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "vigil-bench-media"
    cache.mkdir(exist_ok=True)
    print(f"{'':<8}{'path':<28}{'wall s':>8}{'CPU s':>8}{'CPU s/viewer-hour':>19}{'MB':>7}")
    for name, (width, height) in SIZES.items():
        clip = h264_clip(
            cache,
            width=width,
            height=height,
            fps=FPS,
            gop_seconds=1.0,
            loop_to_seconds=args.seconds,
        )
        rows = {
            "unmasked (stream copy)": serve(fragmented_mp4([clip])),
            "masked (decode, fill, encode)": serve(masked_fmp4([clip], MASK)),
        }
        for path, (wall, used, sent) in rows.items():
            per_hour = used / args.seconds * 3600
            print(f"{name:<8}{path:<28}{wall:>8.1f}{used:>8.1f}{per_hour:>19.0f}{sent / 1e6:>7.1f}")
        ratio = rows["masked (decode, fill, encode)"][1] / max(
            rows["unmasked (stream copy)"][1], 1e-6
        )
        print(
            f"{name:<8}masked / unmasked CPU: {ratio:.0f}x; one core serves about "
            f"{args.seconds / rows['masked (decode, fill, encode)'][1]:.1f} masked viewers"
        )


if __name__ == "__main__":
    main()
