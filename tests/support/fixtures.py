"""Pytest fixtures for fake cameras; pulled into tests/conftest.py with a star import."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

import pytest

__all__ = ["GarbageServerFactory", "RtspServer", "RtspServerFactory", "free_port", "garbage_server",
           "media_cache", "rtsp_server"]  # fmt: skip

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
# The project venv has no PyGObject; Debian's interpreter does.
GST_PYTHON = os.environ.get("VIGIL_GST_PYTHON", "/usr/bin/python3")
READY_TIMEOUT = 15.0
PORT_IN_USE_EXIT = 2  # rtsp_server.py's exit code when it cannot listen


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (callers must tolerate the small race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class RtspServer:
    """One rtsp_server.py subprocess; stop()/start() reuse the port like a replugged camera."""

    def __init__(
        self, mounts: Mapping[str, Path | str], port: int, host: str = "127.0.0.1"
    ) -> None:
        self.mounts = {name: Path(path) for name, path in mounts.items()}
        self.host = host
        self.port = port
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    def url(self, name: str) -> str:
        if name not in self.mounts:
            raise KeyError(f"no mount {name!r}; have {sorted(self.mounts)}")
        return f"rtsp://{self.host}:{self.port}/{name}"

    @property
    def pid(self) -> int | None:
        """The server's process id (what a benchmark measures), None when stopped."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        if self.running:
            return
        cmd = [GST_PYTHON, str(SERVER_SCRIPT), "--host", self.host, "--port", str(self.port)]
        for name, path in self.mounts.items():
            cmd += ["--mount", f"{name}={path}"]
        # A file, not a pipe, so GStreamer warnings can never block the server.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        if not self._wait_ready(timeout):
            err = self._stderr_text()
            code = self._proc.poll()
            self.stop()
            why = f"exited with {code}" if code is not None else f"no READY within {timeout}s"
            raise RuntimeError(f"RTSP server failed ({why}): {' '.join(cmd)}\n{err}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                line = self._proc.stdout.readline()
                if not line:  # EOF: the server died
                    self._proc.wait(5)
                    return False
                if line.strip() == "READY":
                    return True
        return False

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


RtspServerFactory = Callable[[Mapping[str, Path | str]], RtspServer]
GarbageServerFactory = Callable[[], str]


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated clips live; set VIGIL_TEST_CACHE to keep them across runs."""
    override = os.environ.get("VIGIL_TEST_CACHE")
    if override:
        path = Path(override)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("media")


@pytest.fixture
def rtsp_server() -> Iterator[RtspServerFactory]:
    """Factory: rtsp_server({"cam1": clip}) -> started RtspServer, stopped at teardown."""
    servers: list[RtspServer] = []

    def make(mounts: Mapping[str, Path | str]) -> RtspServer:
        for attempt in range(3):
            server = RtspServer(mounts, free_port())
            servers.append(server)
            try:
                server.start()
                return server
            except RuntimeError:
                # Another process may grab the port between free_port() and bind.
                if server.exit_code != PORT_IN_USE_EXIT or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    yield make
    for server in servers:
        server.stop()


class _GarbageHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(2.0)
        with contextlib.suppress(OSError):
            # Read the request first: closing with unread data sends RST, which
            # could make the client see a reset instead of the garbage.
            conn.recv(65536)
            conn.sendall(os.urandom(4096))
            conn.shutdown(socket.SHUT_WR)


@pytest.fixture
def garbage_server() -> Iterator[GarbageServerFactory]:
    """Factory: garbage_server() -> rtsp:// URL of a TCP server that replies with random bytes."""
    servers: list[socketserver.ThreadingTCPServer] = []
    threads: list[threading.Thread] = []

    def make() -> str:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _GarbageHandler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="garbage-server", daemon=True
        )
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"rtsp://127.0.0.1:{server.server_address[1]}/garbage"

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(5)
