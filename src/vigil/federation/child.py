"""How the federation's asyncio children (uplink, ingest) run: the supervisor's child
conventions (`python -m MODULE CONFIG`, the death signal, JSON logs), and SIGTERM or SIGINT
setting the service's `stopping`, which its loops watch."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vigil.config import VigilConfig, load_config
from vigil.errors import VigilError
from vigil.lifeline import bind_to_supervisor
from vigil.logs import setup_logging

log = logging.getLogger(__name__)


class Service(Protocol):
    stopping: asyncio.Event

    async def run(self) -> None: ...


def serve(argv: list[str], module: str, make: Callable[[VigilConfig], Service], what: str) -> int:
    """Run the service `make` builds from the configuration; 2 when it cannot start."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    if not bind_to_supervisor():
        return 0
    try:
        service = make(load_config(args.config))
    except VigilError as exc:
        log.error(f"the {what} cannot start", extra={"error": str(exc)})
        return 2

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, service.stopping.set)
        await service.run()

    asyncio.run(run())
    return 0
