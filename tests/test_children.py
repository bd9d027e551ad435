"""The supervisor's child-role table: one way to start, restart and stop every child."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigil.lifeline import SUPERVISOR_PID
from vigil.runtime.children import ROLES, STABLE_AFTER, Child


def test_every_child_is_started_with_the_configuration_path(tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    assert Child("camera", "gate", ("gate",)).command(config) == [
        sys.executable, "-m", "vigil.runtime.camera", str(config), "gate"
    ]  # fmt: skip
    for role in ("detector", "api"):
        assert Child(role, role).command(config) == [
            sys.executable, "-m", ROLES[role].module, str(config)
        ]  # fmt: skip
    # Only cameras report on stdout (and are watched for hangs).
    assert {name for name, role in ROLES.items() if role.reports} == {"camera"}


def test_a_child_that_exits_is_restarted_with_backoff(tmp_path: Path) -> None:
    child = Child("detector", "detector")
    delays = []
    for _ in range(3):
        process = child.start(tmp_path / "missing.yaml")
        assert process.wait(timeout=60) == 2  # it names the missing file and exits
        delays.append(child.exited())
        assert child.process is None and not child.due(time.monotonic())
    assert child.restarts == 3
    # Full jitter within a doubling ceiling: 0.5-1 s, 1-2 s, 2-4 s.
    for n, delay in enumerate(delays):
        assert 2**n / 2 <= delay <= 2**n
    child.started -= STABLE_AFTER + 1  # it lived long enough: the backoff starts again
    assert child.exited() <= 1.0


def test_a_child_stops_on_sigterm_and_is_killed_after_the_grace(tmp_path: Path) -> None:
    child = Child("detector", "detector")
    child.process = subprocess.Popen(  # stands in for a child that ignores SIGTERM
        [sys.executable, "-c", "import signal, time; signal.signal(15, signal.SIG_IGN); "
         "print(flush=True); time.sleep(60)"], stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.process.stdout is not None
    child.process.stdout.readline()  # its handler is installed
    child.terminate()
    assert child.wait(time.monotonic() + 0.5) is False
    assert child.process.returncode == -9


@pytest.mark.parametrize("role", ["detector", "api", "camera"])
def test_a_child_whose_supervisor_is_gone_exits_at_once(tmp_path: Path, role: str) -> None:
    """The supervisor died between starting it and its death signal: it must not run on."""
    config = tmp_path / "vigil.yaml"
    config.write_text(
        f"storage: {{path: '{tmp_path / 'storage'}'}}\n"
        "cameras: {gate: {main: 'file:///nowhere.mp4'}}\n"
    )
    args = ("gate",) if role == "camera" else ()
    command = Child(role, role, args).command(config)
    env = {**os.environ, SUPERVISOR_PID: str(os.getpid() + 1_000_000)}
    done = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "storage").exists()  # it did nothing at all
