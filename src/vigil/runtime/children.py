"""The supervisor's children: one table of roles, and one way to start, restart and stop them.

Every child runs `MODULE.main([CONFIG, *ARGS])`: it reads its own settings from the
configuration file, so nothing can be lost on the way from the supervisor. Most are exec'd as
`python -m MODULE CONFIG [ARGS]`; a forked role (the cameras, of which there are many) is
forked by the launcher (runtime/launcher.py), which has already imported its code.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import VigilError
from vigil.lifeline import SUPERVISOR_PID
from vigil.runtime.backoff import Backoff

STABLE_AFTER = 60.0  # seconds of life after which a child's restart backoff resets
LAUNCH_TIMEOUT = 60.0  # seconds the launcher may take to fork a child (its imports come first)
MESSAGE = 65536
LAUNCHER_GONE = -1  # the exit code of a forked child whose launcher died before reaping it


@dataclass(frozen=True)
class Role:
    module: str
    # A reporting child writes JSON state lines on stdout; the supervisor reads them and
    # kills the child when they stop (a hang). The others are only restarted when they exit.
    reports: bool
    forked: bool = False  # forked by the launcher rather than exec'd


ROLES: dict[str, Role] = {
    "launcher": Role("vigil.runtime.launcher", reports=False),
    "camera": Role("vigil.runtime.camera", reports=True, forked=True),
    "detector": Role("vigil.analytics.detection.service", reports=False),
    "api": Role("vigil.api.server", reports=False),
    "exporter": Role("vigil.export.worker", reports=False),
    # Federation: the node's nats-server (a site's leaf, or the hub's), the site's uplink into
    # its stream, and the hub's ingest of every site's stream into PostgreSQL.
    "nats": Role("vigil.federation.server", reports=False),
    "uplink": Role("vigil.federation.uplink", reports=False),
    "ingest": Role("vigil.federation.ingest", reports=False),
}


@dataclass
class Child:
    role: str
    name: str
    args: tuple[str, ...] = ()
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))
    process: subprocess.Popen[bytes] | ForkedProcess | None = None
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

    def start(
        self, config_path: Path, launcher: LauncherProcess | None = None
    ) -> subprocess.Popen[bytes] | ForkedProcess:
        """Exec it, or for a forked role have `launcher` fork it (LauncherGone if it cannot)."""
        role = ROLES[self.role]
        if role.forked:
            if launcher is None:
                raise LauncherGone(f"{self.role} {self.name!r} is forked, and needs the launcher")
            self.process = launcher.spawn(role.module, [str(config_path), *self.args], role.reports)
        else:
            self.process = self._exec(config_path, subprocess.DEVNULL)
        self.started = time.monotonic()
        return self.process

    def _exec(self, config_path: Path, stdin: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(config_path),
            stdin=stdin,
            stdout=subprocess.PIPE if ROLES[self.role].reports else None,
            env={**os.environ, SUPERVISOR_PID: str(os.getpid())},
        )

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


class LauncherGone(VigilError):
    """The launcher died or hung; the supervisor restarts it, then the children it forks."""


class ForkedProcess:
    """A child forked by the launcher, handled like a `subprocess.Popen` of the supervisor's.

    It is the launcher's child, not the supervisor's: the supervisor signals it through a
    pidfd (which names that process alone, even once it has exited) and learns its exit code
    from the launcher.
    """

    def __init__(self, launcher: LauncherProcess, pid: int, pidfd: int, stdout: int | None) -> None:
        self.launcher = launcher
        self.pid = pid
        self.pidfd = pidfd
        self.stdout = None if stdout is None else os.fdopen(stdout, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.launcher.pump(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            self.launcher.pump(left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def exited(self, code: int) -> None:
        self.returncode = code
        os.close(self.pidfd)


@dataclass
class LauncherProcess(Child):
    """The launcher child, and the supervisor's end of the socket it forks children through."""

    link: socket.socket | None = None
    forked: dict[int, ForkedProcess] = field(default_factory=dict)
    # Children of a launcher that died: they stop on their death signal, and nobody reaps
    # them for us, so their pidfds tell when they are gone.
    orphans: dict[int, ForkedProcess] = field(default_factory=dict)

    def start(
        self, config_path: Path, launcher: LauncherProcess | None = None
    ) -> subprocess.Popen[bytes]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = self._exec(config_path, theirs.fileno())
        self.link = ours
        self.started = time.monotonic()
        return self.process

    def spawn(self, module: str, argv: list[str], reports: bool) -> ForkedProcess:
        if self.link is None:
            raise LauncherGone(f"the launcher is not running; it cannot start {module} yet")
        read, write = os.pipe() if reports else (None, os.dup(1))
        try:
            request = json.dumps({"module": module, "argv": argv}).encode()
            socket.send_fds(self.link, [request], [write, 2])
            reply = self._reply(time.monotonic() + LAUNCH_TIMEOUT)
        except (OSError, LauncherGone) as exc:
            if read is not None:
                os.close(read)
            raise LauncherGone(f"the launcher could not start {module}: {exc}") from exc
        finally:
            os.close(write)
        pid, pidfd = reply
        self.forked[pid] = ForkedProcess(self, pid, pidfd, read)
        return self.forked[pid]

    def _reply(self, deadline: float) -> tuple[int, int]:
        while self.link is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.link], [], [], left)[0]:
                if self.process is not None:
                    self.process.kill()  # hung: its exit restarts it
                raise LauncherGone(f"no answer within {LAUNCH_TIMEOUT:g} s; killed it")
            if (reply := self._take()) is not None:
                return reply
        raise LauncherGone("it exited")

    def pump(self, timeout: float | None) -> None:
        """Take the exits that are known, or become known within `timeout` seconds."""
        pidfds = {child.pidfd: child for child in self.orphans.values()}
        watched: list[int | socket.socket] = [*pidfds, *([self.link] if self.link else [])]
        if not watched:
            return
        for ready in select.select(watched, [], [], timeout)[0]:
            if isinstance(ready, socket.socket):
                while self.link is not None and select.select([self.link], [], [], 0)[0]:
                    self._take()
            else:
                self.orphans.pop(pidfds[ready].pid).exited(LAUNCHER_GONE)

    def _take(self) -> tuple[int, int] | None:
        """Read one message: a fork's pid and pidfd is returned, an exit is recorded."""
        assert self.link is not None
        try:
            message, fds, _flags, _address = socket.recv_fds(self.link, MESSAGE, 1)
        except OSError:
            message, fds = b"", []
        if not message:
            self._gone()
            return None
        notice = json.loads(message)
        if "pid" in notice:
            return int(notice["pid"]), fds[0]
        child = self.forked.pop(int(notice["exit"]), None)
        if child is not None:
            child.exited(int(notice["code"]))
        return None

    def _gone(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        self.orphans.update(self.forked)
        self.forked.clear()

    def exited(self) -> float:
        self._gone()
        return super().exited()
