"""A helper process the supervisor keeps alive (the machine's detector service)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

from vigil.runtime.backoff import Backoff
from vigil.runtime.lifeline import die_with_parent

log = logging.getLogger(__name__)

STABLE_AFTER = 60.0


class ServiceProcess:
    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.command = command
        self.backoff = Backoff(1.0, 60.0)
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restart_at = 0.0

    def tend(self) -> None:
        """Start it when due; notice when it has died and schedule its restart."""
        now = time.monotonic()
        if self.process is not None and (code := self.process.poll()) is not None:
            if now - self.started > STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.next()
            log.error(
                "service exited; restarting",
                extra={"service": self.name, "code": code, "restart_in_s": round(delay, 1)},
            )
            self.process, self.restart_at = None, now + delay
        if self.process is None and now >= self.restart_at:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
            )
            self.started = now

    def stop(self, grace: float) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def detector_command(config_path: Path) -> list[str]:
    """The detector service reads its own settings (`detector:` and `storage.path`) from the
    configuration, as every child does: none can be dropped on the way."""
    return [sys.executable, "-m", "vigil.analytics.detection.service", str(config_path)]
