"""The supervisor's children: one table of roles, and one way to start, restart and stop them.

Every child is `python -m MODULE CONFIG [ARGS]`: it reads its own settings from the
configuration file, so nothing can be lost on the way from the supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigil.lifeline import SUPERVISOR_PID
from vigil.runtime.backoff import Backoff

STABLE_AFTER = 60.0  # seconds of life after which a child's restart backoff resets


@dataclass(frozen=True)
class Role:
    module: str
    # A reporting child writes JSON state lines on stdout; the supervisor reads them and
    # kills the child when they stop (a hang). The others are only restarted when they exit.
    reports: bool


ROLES: dict[str, Role] = {
    "camera": Role("vigil.runtime.camera", reports=True),
    "detector": Role("vigil.analytics.detection.service", reports=False),
    "api": Role("vigil.api.server", reports=False),
}


@dataclass
class Child:
    role: str
    name: str
    args: tuple[str, ...] = ()
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0

    def labels(self) -> dict[str, str]:
        """What its log lines carry: a camera child names its camera."""
        return {"camera": self.name} if self.role == "camera" else {"service": self.name}

    def command(self, config_path: Path) -> list[str]:
        return [sys.executable, "-m", ROLES[self.role].module, str(config_path), *self.args]

    def due(self, now: float) -> bool:
        return self.process is None and now >= self.restart_at

    def start(self, config_path: Path) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            self.command(config_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if ROLES[self.role].reports else None,
            env={**os.environ, SUPERVISOR_PID: str(os.getpid())},
        )
        self.started = time.monotonic()
        return self.process

    def exited(self) -> float:
        """Forget the dead process and schedule its restart; returns the delay in seconds."""
        now = time.monotonic()
        if now - self.started > STABLE_AFTER:
            self.backoff.reset()
        delay = self.backoff.next()
        self.process, self.restart_at = None, now + delay
        self.restarts += 1
        return delay

    def terminate(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> bool:
        """Wait for it to stop until `deadline` (monotonic), then kill it; False if killed."""
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False
