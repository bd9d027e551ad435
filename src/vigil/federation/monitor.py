"""nats-server's monitoring endpoint on 127.0.0.1 (the leaf links), and closing a client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from typing import Any

from nats.aio.client import Client

CLOSE_S = 5.0


def monitoring(port: int, path: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET http://127.0.0.1:PORT/PATH as JSON; None when the server does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=timeout) as reply:
            return dict(json.loads(reply.read()))
    except (OSError, urllib.error.URLError, ValueError):
        return None


def leaf_links(port: int) -> int | None:
    """How many leaf connections the server has (a site: to the hub); None: it is not up."""
    found = monitoring(port, "leafz")
    return None if found is None else int(found.get("leafnodes", 0))


async def close(client: Client) -> None:
    """Close a connection, giving up after CLOSE_S: nats-py's close can wait forever for a
    server that died (a site's leaf killed with it), and a child must stop on SIGTERM."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.close(), CLOSE_S)
