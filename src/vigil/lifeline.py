"""Children of the supervisor stop when it dies, rather than run on orphaned."""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
from pathlib import Path

from vigil.logs import setup_logging

PR_SET_PDEATHSIG = 1
SUPERVISOR_PID = "VIGIL_SUPERVISOR_PID"


def bind_to_supervisor() -> bool:
    """Ask Linux to send SIGTERM when the parent dies, so the child still stops cleanly.

    Each child calls this first, in its own process: the alternative, `preexec_fn`, is not
    safe in a supervisor that runs threads. False means the supervisor died before the death
    signal was set, and the child should exit at once.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the supervisor's own shutdown still stops its children
    parent = int(os.environ.get(SUPERVISOR_PID, "0"))
    return not parent or os.getppid() == parent


def start_child(argv: list[str], module: str) -> Path | None:
    """A child's start: `python -m MODULE CONFIG`, JSON logs at VIGIL_LOG_LEVEL, bound to the
    supervisor. Returns the configuration's path; None when the child should exit at once."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    return args.config if bind_to_supervisor() else None
