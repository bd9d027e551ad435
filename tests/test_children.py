"""The supervisor's child-role table: one way to start, restart and stop every child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from vigil.config import load_config
from vigil.lifeline import SUPERVISOR_PID
from vigil.runtime.children import (
    LAUNCHER_GONE,
    ROLES,
    STABLE_AFTER,
    Child,
    ForkedProcess,
    LauncherGone,
    LauncherProcess,
)
from vigil.storage.database import connect, migrate
from vigil.storage.layout import Layout


def test_every_child_is_started_with_the_configuration_path(tmp_path: Path) -> None:
    config = tmp_path / "vigil.yaml"
    assert Child("camera", "gate", ("gate",)).command(config) == [
        sys.executable, "-m", "vigil.runtime.camera", str(config), "gate"
    ]  # fmt: skip
    for role in ("detector", "api", "exporter"):
        assert Child(role, role).command(config) == [
            sys.executable, "-m", ROLES[role].module, str(config)
        ]  # fmt: skip
    # Only cameras report on stdout (and are watched for hangs), and only they are forked.
    assert {name for name, role in ROLES.items() if role.reports} == {"camera"}
    assert {name for name, role in ROLES.items() if role.forked} == {"camera"}


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


@pytest.mark.parametrize("role", ["detector", "api", "exporter", "camera"])
def test_a_child_whose_supervisor_is_gone_exits_at_once(tmp_path: Path, role: str) -> None:
    """The supervisor died between starting it and its death signal: it must not run on."""
    config = tmp_path / "vigil.yaml"
    config.write_text(
        f"storage: {{path: '{tmp_path / 'storage'}'}}\n"
        "cameras: {gate: {purpose: testing, main: 'file:///nowhere.mp4'}}\n"
    )
    args = ("gate",) if role == "camera" else ()
    command = Child(role, role, args).command(config)
    env = {**os.environ, SUPERVISOR_PID: str(os.getpid() + 1_000_000)}
    done = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "storage").exists()  # it did nothing at all


def offline_camera_config(tmp_path: Path) -> Path:
    config = tmp_path / "vigil.yaml"
    config.write_text(
        f"storage: {{path: '{tmp_path / 'storage'}'}}\n"
        "cameras: {gate: {purpose: testing, main: 'file:///nowhere.mp4'}}\n"
    )
    Layout(tmp_path / "storage").create()
    migrate(connect(load_config(config).database_url()))  # as the supervisor does first
    return config


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[LauncherProcess]:
    launcher = LauncherProcess("launcher", "launcher")
    launcher.start(offline_camera_config(tmp_path))
    yield launcher
    launcher.terminate()
    launcher.wait(time.monotonic() + 10)


def test_a_camera_is_forked_by_the_launcher_and_looks_exec_d(
    tmp_path: Path, launcher: LauncherProcess
) -> None:
    config = tmp_path / "vigil.yaml"
    camera = Child("camera", "gate", ("gate",))
    process = camera.start(config, launcher)
    assert isinstance(process, ForkedProcess) and process.stdout is not None
    seen = psutil.Process(process.pid)
    assert launcher.process is not None and seen.ppid() == launcher.process.pid
    report = json.loads(process.stdout.readline())  # it runs, and reports on its stdout
    assert report["state"] in ("offline", "error")
    # What ps, top and the metrics show is the command line it would have had if exec'd.
    assert seen.cmdline() == Child("camera", "gate", ("gate",)).command(config)
    camera.terminate()  # through its pidfd
    assert camera.wait(time.monotonic() + 30) and process.returncode == 0
    # An exit code comes back from the launcher, which reaped it.
    failing = Child("camera", "nosuch", ("nosuch",)).start(config, launcher)
    assert failing.wait(timeout=30) == 1
    assert not Path(f"/proc/{failing.pid}").exists()  # reaped: no zombie left


def test_the_cameras_of_a_dead_launcher_stop_and_are_noticed(
    tmp_path: Path, launcher: LauncherProcess
) -> None:
    process = Child("camera", "gate", ("gate",)).start(tmp_path / "vigil.yaml", launcher)
    assert isinstance(process, ForkedProcess) and process.stdout is not None
    process.stdout.readline()
    assert launcher.process is not None
    launcher.process.send_signal(signal.SIGKILL)
    launcher.process.wait(timeout=10)
    launcher.exited()
    # Its death signal stops the camera, which nobody reaps for us: its pidfd says so.
    assert process.wait(timeout=30) == LAUNCHER_GONE
    with pytest.raises(LauncherGone):
        Child("camera", "gate", ("gate",)).start(tmp_path / "vigil.yaml", launcher)
