"""The launcher: camera processes forked from one process that has imported their code.

A camera process started with `python -m` spends most of a second of CPU importing PyAV,
SQLAlchemy and the configuration models before it reads a packet; a site with a hundred
cameras coming back from a power cut would spend a minute of both cores on that alone.
The launcher imports that code once, freezes it out of the garbage collector (so that no
collection writes to, and un-shares, the pages every camera inherits), and forks each camera
from it: start-up is a fork, and the imported code is shared by every camera.

The launcher is single-threaded, so forking it is safe; the supervisor, which runs threads,
never forks. It talks to the supervisor over a Unix socket on its stdin:
- the supervisor sends `{"module": ..., "argv": [...]}` with the child's stdout and stderr
  as file descriptors;
- the launcher forks, and answers `{"pid": N}` with a pidfd of the child, which lets the
  supervisor signal exactly that process even after it has exited;
- when a child exits the launcher reaps it and sends `{"exit": N, "code": C}`. A child's exit
  always follows its pid on the socket.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from setproctitle import setproctitle

from vigil.lifeline import SUPERVISOR_PID, bind_to_supervisor
from vigil.logs import setup_logging

log = logging.getLogger(__name__)

MESSAGE = 65536


def _child(request: dict[str, object], fds: list[int], inherited: list[int]) -> NoReturn:
    """In the forked child: become the requested process, and never return to the launcher."""
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        for fd in inherited:
            os.close(fd)
        stdout, stderr = fds
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.close(stdout)
        os.close(stderr)
        module, argv = str(request["module"]), [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
        # What ps, top and the metrics see: the command line it would have had if exec'd.
        setproctitle(" ".join([sys.executable, "-m", module, *argv]))
        main = importlib.import_module(module).main
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        os._exit(1)
    # From here it ends as an exec'd process would: SystemExit, or an exception, unwinds to the
    # interpreter's exit, which runs the atexit handlers and finalizers (SQLite closes cleanly).
    raise SystemExit(main(argv))


class Launcher:
    def __init__(self, link: socket.socket) -> None:
        self.link = link
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_r, False)
        os.set_blocking(self.wakeup_w, False)
        signal.set_wakeup_fd(self.wakeup_w)
        # A handler (not SIG_IGN, which would reap children unseen) that only wakes the loop.
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
        self.selector.register(self.link, selectors.EVENT_READ, self._request)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, self._reap)

    def run(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data() is False:
                    return

    def _request(self) -> bool:
        try:
            message, fds, _flags, _address = socket.recv_fds(self.link, MESSAGE, 2)
        except ConnectionResetError:
            message, fds = b"", []
        if not message:
            return False  # the supervisor is gone; the children's death signal stops them
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            _child(request, fds, self.inherited())
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(self.link, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)
        return True

    def inherited(self) -> list[int]:
        """The launcher's own descriptors, which a child must not keep open."""
        return [self.link.fileno(), self.selector.fileno(), self.wakeup_r, self.wakeup_w]

    def _reap(self) -> bool:
        try:
            while os.read(self.wakeup_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return True
            code = os.waitstatus_to_exitcode(status)
            self.link.send(json.dumps({"exit": pid, "code": code}).encode())


def preload(modules: list[str]) -> None:
    """Import what the children run, then keep the collector off those objects for good."""
    for module in modules:
        importlib.import_module(module)
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        # A thread started by an import would be missing, mid-whatever, in every child.
        raise RuntimeError(f"importing {modules} started {threads - 1} threads; cannot fork")
    gc.collect()
    gc.freeze()


def main(argv: list[str]) -> int:
    # OpenBLAS (under numpy and OpenCV) starts a thread pool on import unless told not to; a
    # camera's analysis has no use for it, and a hundred cameras with a pool each would thrash.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    if not bind_to_supervisor():
        return 0
    from vigil.config import load_config

    config = load_config(Path(argv[0]))
    modules = ["vigil.runtime.camera"]
    if any(camera.analytics() for camera in config.cameras.values() if camera.enabled):
        modules += [
            "vigil.runtime.analysis",
            "vigil.events.sink",
            "vigil.analytics.detection.service",
        ]
    preload(modules)
    # The children's lifeline is the launcher: they stop when it does.
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    link = socket.socket(fileno=os.dup(0))
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)  # fd 0 again, for the children's stdin
    Launcher(link).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
