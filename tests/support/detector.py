"""Starting the real detector service as `vigil run` does, for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml


def start_detector_service(
    address: Path, model: Path, timeout: float = 60.0, **detector: object
) -> subprocess.Popen[bytes]:
    """`python -m vigil.analytics.detection.service CONFIG` on a Unix socket, once it listens;
    `detector` holds more of the configuration's `detector:` settings."""
    config = address.with_name(f"{address.stem}.yaml")
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(address.parent)},
        "detector": {"model": str(model), **detector},
    }))  # fmt: skip
    command = [sys.executable, "-m", "vigil.analytics.detection.service", str(config),
               "--address", str(address)]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the detector service exited at start: {' '.join(command)}")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(address))
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the detector service did not listen within {timeout:.0f} s")
