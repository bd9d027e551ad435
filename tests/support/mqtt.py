"""A real Mosquitto broker from Debian on 127.0.0.1, for the MQTT tests.

Pulled into tests/conftest.py with
`from support.mqtt import mosquitto, persistent_mosquitto  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from support.fixtures import free_port

MOSQUITTO = os.environ.get("VIGIL_MOSQUITTO", "/usr/sbin/mosquitto")
READY_TIMEOUT = 10.0


class MosquittoBroker:
    """One mosquitto process; stop()/start() keep the port, like a broker being restarted."""

    def __init__(self, directory: Path, port: int, persistent: bool = False) -> None:
        self.port = port
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        # Persistent: sessions and their queued messages survive a restart (saved on SIGTERM).
        persistence = f"true\npersistence_location {directory}/" if persistent else "false"
        self.config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence {persistence}\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
        )
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not Path(MOSQUITTO).is_file() and not shutil.which(MOSQUITTO):
            raise FileNotFoundError(
                f"{MOSQUITTO} not found; install Debian's mosquitto package (./test.sh does)"
            )
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port}:\n{self.log.read_text()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _broker(persistent: bool) -> Iterator[MosquittoBroker]:
    # Not under pytest's tmp dir: as root, mosquitto drops to its own user, which must read it
    # (and, with persistence, write its database there).
    directory = Path(tempfile.mkdtemp(prefix="vigil-mqtt-"))
    directory.chmod(0o755)
    if os.geteuid() == 0 and persistent:
        with contextlib.suppress(LookupError):
            shutil.chown(directory, "mosquitto")
    for attempt in range(3):
        broker = MosquittoBroker(directory, free_port(), persistent)
        try:
            broker.start()
            break
        except RuntimeError:
            # Another process may take the port between free_port() and listen.
            if attempt == 2:
                raise
    yield broker
    broker.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A started broker on a free port, without persistence; stopped at teardown."""
    yield from _broker(persistent=False)


@pytest.fixture
def persistent_mosquitto() -> Iterator[MosquittoBroker]:
    """A broker that keeps sessions across stop()/start(), so a subscriber misses nothing."""
    yield from _broker(persistent=True)


class Listener:
    """A paho subscriber that records every message; persistent sessions survive restarts."""

    def __init__(self, broker: MosquittoBroker, topic: str, client_id: str | None = None) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        persistent = client_id is not None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or "", clean_session=not persistent
        )
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", broker.port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"no subscription to {topic} on port {broker.port}")

    def next(self, timeout: float = 10.0) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no MQTT message within {timeout} s") from None

    def json(self, topic: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message on the topic, decoded; messages on other topics are skipped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.next(left)
            if message.topic == topic:
                return json.loads(message.payload)
        raise AssertionError(f"no message on {topic} within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
