"""The site's uplink, a child of the supervisor: `python -m vigil.federation.uplink CONFIG`.

It moves what the site's database holds (audit records, checkpoints, the segment index, events
with their snapshots, camera states, alarms) into the site's own JetStream stream on the leaf
node, and only then moves its cursor: the stream is synced to disk on every write, so what it
acknowledged survives a power cut. The hub sources the stream whenever the link is up; the
site never waits for the hub. It also watches the leaf (nats-server #7615).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from vigil.audit import open_audit_log
from vigil.audit.keys import public_key_pem
from vigil.config import VigilConfig
from vigil.federation.child import serve
from vigil.federation.home import Home
from vigil.federation.monitor import close, leaf_links
from vigil.federation.natsconf import ACKS, LOCAL_USER, STREAM
from vigil.federation.outbox import Batch, Outbox
from vigil.federation.server import federation_of
from vigil.federation.serving import CHUNK, RETRIEVE, Serving
from vigil.settings.federation import FederationSettings
from vigil.storage.database import connect, migrate
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout

log = logging.getLogger(__name__)

BATCH = 256
IDLE_S = 0.5
ACK_TIMEOUT_S = 10.0
WATCH_EVERY_S = 5.0
DUPLICATE_WINDOW_S = 120.0


def stream_config(settings: FederationSettings) -> StreamConfig:
    return StreamConfig(
        name=STREAM,
        subjects=[f"vigil.{settings.site}.>"],
        # Limits, never interest or work-queue: the hub's sourcing is not a consumer the
        # stream can wait for, and an outage must not fill the disk.
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=settings.max_age_days * 86400,
        max_bytes=settings.max_bytes,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
    )


async def ensure_stream(js: JetStreamContext, settings: FederationSettings) -> None:
    """Create the site's stream once; afterwards only update its limits. Never delete or
    re-create it: the hub's sourcing of a re-created stream stalls (nats-server #6206)."""
    wanted = stream_config(settings)
    try:
        await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        await js.add_stream(wanted)
        log.info("the site's stream was created", extra={"stream": STREAM})
        return
    await js.update_stream(wanted)


class Uplink:
    def __init__(self, config: VigilConfig) -> None:
        self.settings = federation_of(config)
        assert self.settings.site is not None and self.settings.hub is not None
        self.home = Home(self.settings.home(config.storage.path))
        engine = connect(config.database_url())
        migrate(engine)
        audit = open_audit_log(config, engine)
        layout = Layout(config.storage.path)
        key = public_key_pem(audit.public_key).decode()
        self.outbox = Outbox(engine, self.settings.site, layout.snapshots, key)
        self.serving = Serving(
            self.settings.site, SegmentIndex(engine), layout, audit, self.settings.uplink_kbps
        )
        self.stopping = asyncio.Event()
        self._down_since: float | None = None

    async def connect(self) -> Client:
        return await nats.connect(
            f"nats://127.0.0.1:{self.settings.client_port}",
            user=LOCAL_USER,
            password=self.home.local_password(),
            name=f"vigil-uplink-{self.settings.site}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=5,
            allow_reconnect=True,
        )

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                client = await self.connect()
            except (OSError, nats.errors.Error, TimeoutError) as exc:
                log.warning("the leaf NATS server is not up yet", extra={"error": str(exc)})
                await self._sleep(2.0)
                continue
            try:
                js = client.jetstream(timeout=ACK_TIMEOUT_S)
                await ensure_stream(js, self.settings)
                await client.subscribe(ACKS, cb=self._hub_acked)
                await client.subscribe(RETRIEVE, cb=self.serving.retrieve)
                await client.subscribe(CHUNK, cb=self.serving.chunk)
                await self._publish_loop(js)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("the uplink lost its leaf; starting again", extra={"error": str(exc)})
                await self._sleep(1.0)
            finally:
                await close(client)

    async def _hub_acked(self, message: Msg) -> None:
        try:
            ack = json.loads(message.data)
            self.outbox.hub_acked(int(ack["seq"]), int(ack["at_us"]))
        except (ValueError, KeyError, TypeError):
            log.warning("the hub's acknowledgement was not understood")

    async def _publish_loop(self, js: JetStreamContext) -> None:
        watched = 0.0
        while not self.stopping.is_set():
            cursors = self.outbox.cursors()
            sent = 0
            for name, read in self.outbox.sources.items():
                batch = read(cursors[name], BATCH)
                sent += await self._send(js, name, batch)
            sent += await self._send(js, "", self.outbox.states(time.monotonic()))
            if time.monotonic() - watched > WATCH_EVERY_S:
                watched = time.monotonic()
                # Off the loop: its probes wait seconds for a hub that does not answer.
                await asyncio.to_thread(self._watch_leaf)
            if not sent:
                await self._sleep(IDLE_S)

    async def _send(self, js: JetStreamContext, name: str, batch: Batch) -> int:
        if batch.messages:
            # Pipelined, in order: one connection, so the stream keeps the database's order.
            futures = [
                await js.publish_async(m.subject, m.data, headers={"Nats-Msg-Id": m.msg_id})
                for m in batch.messages
            ]
            await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT_S)
        self.outbox.acknowledged(name, batch)
        return len(batch.messages)

    def _watch_leaf(self) -> None:
        """Restart the leaf when it has been disconnected for leaf_watchdog_s while the hub
        takes TCP connections: nats-server #7615 leaves a leaf in a reconnect loop on flaky
        links, which only a restart ends. The supervisor starts it again."""
        links = leaf_links(self.settings.monitor_port)
        if links is None or links > 0 or not self._hub_answers():
            self._down_since = None
            return
        now = time.monotonic()
        self._down_since = self._down_since or now
        if now - self._down_since < self.settings.leaf_watchdog_s:
            return
        self._down_since = None
        try:
            pid = int(self.home.nats_pid.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError) as exc:
            log.error("the leaf cannot be restarted", extra={"error": str(exc)})
            return
        log.warning(
            "the leaf was disconnected with the hub reachable; restarted it",
            extra={"seconds": self.settings.leaf_watchdog_s},
        )

    def _hub_answers(self) -> bool:
        parts = urlsplit(self.settings.hub or "")
        try:
            socket.create_connection((parts.hostname, parts.port or 7422), timeout=2).close()
        except OSError:
            return False
        return True

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)


def main(argv: list[str]) -> int:
    return serve(argv, "vigil.federation.uplink", Uplink, "uplink")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
