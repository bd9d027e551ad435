"""How the federation's asyncio children (uplink, ingest) run: the supervisor's child
conventions (`python -m MODULE CONFIG`, the death signal, JSON logs), and SIGTERM or SIGINT
setting the service's `stopping`, which its loops watch."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Protocol

from vigil.config import VigilConfig, load_config
from vigil.errors import VigilError
from vigil.lifeline import start_child

log = logging.getLogger(__name__)


class Service(Protocol):
    stopping: asyncio.Event

    async def run(self) -> None: ...


def serve(argv: list[str], module: str, make: Callable[[VigilConfig], Service], what: str) -> int:
    """Run the service `make` builds from the configuration; 2 when it cannot start."""
    config = start_child(argv, module)
    if config is None:
        return 0
    try:
        service = make(load_config(config))
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
