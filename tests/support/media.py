"""Test footage helpers: derive small H.264 clips from the shared sample video.

Clips are generated on demand with the ffmpeg CLI and cached by their
parameters, so footage never lives in the repository and a session pays the
transcode cost once.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from support.assets import SHARED

ENV_VIDEO = "VIGIL_TEST_VIDEO"
DEFAULT_VIDEOS = (
    SHARED / "data" / "vtest.avi",
    # Debian's opencv-doc ships the same file, so a fresh machine can get it.
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
)


def source_video() -> Path:
    """Return the raw sample footage (env var first, then known locations)."""
    override = os.environ.get(ENV_VIDEO)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_VIDEO}={override!r} does not point to a file")
        return path
    for path in DEFAULT_VIDEOS:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in DEFAULT_VIDEOS)
    raise FileNotFoundError(
        f"no test footage found; set {ENV_VIDEO} or install Debian's opencv-doc (tried {tried})"
    )


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FileNotFoundError("ffmpeg CLI not found on PATH; it is needed to build test clips")
    return exe


def _run_ffmpeg(args: list[str]) -> None:
    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")


def _cached(target: Path, build: Callable[[Path], None]) -> Path:
    """Build `target` via a temp file + rename so concurrent sessions never see half a file."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        build(tmp)
        tmp.chmod(0o644)  # mkstemp's 0600 would hide a shared VIGIL_TEST_CACHE from other users
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _x264_args(fps: int, gop: int) -> list[str]:
    # Fixed, closed GOPs without B-frames make keyframe spacing and packet order
    # predictable, which tests about keyframes and segment cuts rely on.
    return [
        "-an",
        "-c:v", "libx264",
        "-preset", "ultrafast",
        "-tune", "zerolatency",
        "-pix_fmt", "yuv420p",
        "-r", str(fps),
        "-g", str(gop),
        "-keyint_min", str(gop),
        "-sc_threshold", "0",
        "-bf", "0",
        "-flags", "+cgop",
        "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
        "-crf", "28",
    ]  # fmt: skip


def h264_clip(
    cache_dir: Path,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 15,
    gop_seconds: float = 1.0,
    seconds: float | None = None,
    loop_to_seconds: float | None = None,
) -> Path:
    """H.264 MPEG-TS clip of the sample footage, cached by parameters.

    `seconds` trims the source; `loop_to_seconds` then repeats the clip (stream
    copy, so cheap) until it is at least that long, with continuous timestamps.
    """
    gop = max(1, round(fps * gop_seconds))
    src = source_video()
    key = f"h264_{width}x{height}_{fps}fps_g{gop}_t{seconds or 'full'}"
    base = Path(cache_dir) / f"{key}.ts"

    def encode(out: Path) -> None:
        trim = ["-t", str(seconds)] if seconds is not None else []
        vf = f"scale={width}:{height},fps={fps}"
        args = ["-i", str(src), *trim, "-vf", vf, *_x264_args(fps, gop)]
        _run_ffmpeg([*args, "-f", "mpegts", str(out)])

    _cached(base, encode)
    if loop_to_seconds is None:
        return base

    looped = Path(cache_dir) / f"{key}_loop{loop_to_seconds:g}.ts"

    def loop(out: Path) -> None:
        args = ["-stream_loop", "-1", "-i", str(base), "-t", str(loop_to_seconds)]
        _run_ffmpeg([*args, "-c", "copy", "-f", "mpegts", str(out)])

    return _cached(looped, loop)


def resolution_change_clip(cache_dir: Path, *, fps: int = 15, half_seconds: float = 2.0) -> Path:
    """MPEG-TS whose single H.264 stream switches from 640x360 to 320x240 halfway.

    The halves are encoded as raw Annex B and concatenated before muxing, so a
    reader meets a new SPS mid-stream instead of a second stream or a new file.
    """
    src = source_video()
    target = Path(cache_dir) / f"reschange_{fps}fps_{half_seconds:g}s.ts"

    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            parts = []
            for idx, (w, h) in enumerate(((640, 360), (320, 240))):
                part = Path(tmp) / f"part{idx}.h264"
                cut = ["-ss", str(idx * half_seconds), "-i", str(src), "-t", str(half_seconds)]
                vf = ["-vf", f"scale={w}:{h},fps={fps}"]
                _run_ffmpeg([*cut, *vf, *_x264_args(fps, fps), "-f", "h264", str(part)])
                parts.append(part)
            joined = Path(tmp) / "joined.h264"
            with joined.open("wb") as dst:
                for part in parts:
                    dst.write(part.read_bytes())
            raw = ["-f", "h264", "-framerate", str(fps), "-i", str(joined)]
            _run_ffmpeg([*raw, "-c", "copy", "-f", "mpegts", str(out)])

    return _cached(target, build)


def garbage_file(path: Path, size: int = 64 * 1024, seed: int = 1234) -> Path:
    """Write seeded random bytes: deterministic, and no container will recognise them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path
