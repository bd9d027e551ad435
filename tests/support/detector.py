"""Starting the real detector service as `vigil run` does, for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def start_detector_service(
    address: Path, model: Path, *options: str, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """`python -m vigil.analytics.detection.service` on a Unix socket, once it listens."""
    command = [sys.executable, "-m", "vigil.analytics.detection.service",
               "--address", str(address), "--model", str(model), *options]  # fmt: skip
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
