"""The demo camera `vigil run` starts when no configuration is given: real footage, looped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from vigil.errors import ConfigError

FOOTAGE = (
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),  # Debian's opencv-doc
    Path(__file__).resolve().parents[3] / "shared" / "data" / "vtest.avi",
)


def demo_footage() -> Path:
    override = os.environ.get("VIGIL_DEMO_VIDEO")
    for candidate in ([Path(override)] if override else []) + list(FOOTAGE):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no demo footage found; install Debian's opencv-doc package, set VIGIL_DEMO_VIDEO "
        "to a video file, or pass a configuration with -c"
    )


def demo_config(home: Path) -> Path:
    """Write (once) an H.264 copy of the footage and a config recording it; return the config."""
    home.mkdir(parents=True, exist_ok=True)
    clip = home / "demo-camera.mp4"
    if not clip.exists():
        if shutil.which("ffmpeg") is None:
            raise ConfigError("the demo needs ffmpeg to prepare its camera; apt-get install ffmpeg")
        partial = home / "demo-camera.partial.mp4"
        # An H.264 camera-like stream: 1 s closed GOPs, no B-frames, as most IP cameras send.
        subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(demo_footage()),
                "-an",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "10",
                "-bf",
                "0",
                "-pix_fmt",
                "yuv420p",
                str(partial),
            ],
            check=True,
        )
        partial.rename(clip)
    config = home / "demo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(home / "storage"), "min_free": "5%"},
                "cameras": {
                    "demo": {
                        "main": clip.resolve().as_uri(),
                        "site": "demo",
                        "purpose": "a demonstration camera: recorded footage of a plaza",
                        "operator": "whoever runs this demonstration",
                        "location": [33.3128, 44.3615],
                        "retention_days": 1,
                        # People crossing the lower half raise intrusion events for the console.
                        "zones": {
                            "plaza": {
                                "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
                                "intrusion": {"objects": ["person"]},
                            }
                        },
                    }
                },
            }
        )
    )
    return config
