"""A hub and its sites on loopback, each a real `vigil run` with its own nats-server, the
sites' leaf links through a proxy process that can cut them."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.vigil import Vigil

_GIVEN: set[int] = set()


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999), never the same one twice: a port
    the kernel hands out for outgoing connections can be taken by one before the server that
    was given it binds."""
    while True:
        port = random.randrange(20000, 32000)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _GIVEN.add(port)
            return port


class LinkProxy:
    """tests/support/tcp_proxy.py in its own process: cut() and restore() the site's link."""

    def __init__(self, target: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("tcp_proxy.py")),
                str(self.port),
                str(target),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"ready"

    def cut(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def restore(self) -> None:
        self.process.send_signal(signal.SIGUSR2)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


class Federation:
    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.leaf_port = free_port()
        self.hub = Vigil(
            directory / "hub",
            {},
            federation={
                "role": "hub",
                "database": database_url,
                "leaf_listen": f"127.0.0.1:{self.leaf_port}",
                "client_port": free_port(),
                "monitor_port": free_port(),
            },
            api={"enabled": True, "port": free_port()},
        )
        self._cli(self.hub, "federation", "init", "-c", str(self.hub.config_path))
        self.hub_home = self.hub.storage / "federation"
        self.sites: dict[str, Vigil] = {}
        self.proxies: dict[str, LinkProxy] = {}

    def _cli(self, node: Vigil, *args: str) -> str:
        done = node.cli(*args)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def add_site(
        self,
        name: str,
        cameras: dict[str, dict[str, Any]] | None = None,
        federation: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Vigil:
        credentials = self.directory / f"{name}.credentials.json"
        self._cli(
            self.hub,
            "federation",
            "add-site",
            name,
            "-c",
            str(self.hub.config_path),
            "--out",
            str(credentials),
        )
        proxy = self.proxies[name] = LinkProxy(self.leaf_port)
        site = Vigil(
            self.directory / name,
            cameras or {},
            federation={
                "role": "site",
                "site": name,
                "hub": f"tls://127.0.0.1:{proxy.port}",
                "credentials": str(credentials),
                "client_port": free_port(),
                "monitor_port": free_port(),
                **(federation or {}),
            },
            **sections,
        )
        self.sites[name] = site
        return site

    def status(self, node: Vigil) -> str:
        return self._cli(node, "federation", "status", "-c", str(node.config_path), "--json")

    def close(self) -> None:
        for node in [*self.sites.values(), self.hub]:
            node.close()
        for proxy in self.proxies.values():
            proxy.close()
