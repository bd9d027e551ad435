"""The hub's ingest, a child of the supervisor: `python -m vigil.federation.ingest CONFIG`.

For every site it keeps, in the site's account at the hub, a stream that sources the site's
stream across the leaf link (in the site's JetStream domain), and reads it with a durable pull
consumer: a batch is stored in one PostgreSQL transaction, then acknowledged. A crash between
the two redelivers the batch, which the keys make harmless. A message whose site is not the
account's is refused: counted, logged, acknowledged, and never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ExternalStream,
    RawStreamMsg,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)

from vigil.audit import open_audit_log
from vigil.config import CAMERA_NAME, VigilConfig
from vigil.federation.child import serve
from vigil.federation.home import Home, SiteSecrets
from vigil.federation.monitor import close
from vigil.federation.natsconf import ACKS, HUB_STREAM, STREAM
from vigil.federation.retriever import Retriever
from vigil.federation.server import federation_of
from vigil.storage.database import connect, migrate
from vigil.storage.hub import HubStore, Received
from vigil.storage.layout import Layout, make_dirs_durable, write_private
from vigil.storage.partitions import ensure_partitions
from vigil.timeutil import now_us

log = logging.getLogger(__name__)

BATCH = 512
KINDS = ("event", "snapshot", "audit", "checkpoint", "segment", "camera", "alarms")
CONSUMER = "ingest"
SITES_EVERY_S = 10.0  # how often the list of sites is read again (add-site needs no restart)
PARTITIONS_EVERY_S = 3600.0
STALL_S = 20.0  # nothing sourced this long while the site's stream has more: restart the source
HUB_MAX_AGE_S = 30 * 86400


def hub_stream(site: str) -> StreamConfig:
    return StreamConfig(
        name=HUB_STREAM,
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_age=HUB_MAX_AGE_S,
        sources=[StreamSource(name=STREAM, external=ExternalStream(api=f"$JS.{site}.API"))],
    )


def source_seq(message: Msg | RawStreamMsg) -> int | None:
    """The message's place in the site's stream, from the header sourcing adds:
    `Nats-Stream-Source: VIGIL:<id> <seq> ...`."""
    try:
        return int((message.headers or {})["Nats-Stream-Source"].split()[1])
    except (KeyError, IndexError, ValueError):
        return None


class Refused(ValueError):
    """A message the hub will not store; the text says why."""


def snapshot_path(site: str, camera: str, event_id: str) -> str:
    """Where the hub keeps an event's snapshot, under <storage>/snapshots; names from a site
    are checked before they become a path."""
    if not CAMERA_NAME.match(camera):
        raise Refused(f"camera name {camera!r} is not a camera name")
    try:
        uuid.UUID(event_id)
    except ValueError:
        raise Refused(f"event id {event_id!r} is not a UUID") from None
    return f"{site}/{camera}/{event_id}.jpg"


def parse(site: str, message: Msg, snapshots: Path) -> Received:
    parts = message.subject.split(".")
    if len(parts) < 3 or parts[0] != "vigil" or parts[1] != site or parts[2] not in KINDS:
        raise Refused(f"subject {message.subject!r} is not one of site {site!r}'s")
    try:
        if parts[2] == "snapshot":
            line, _, jpeg = message.data.partition(b"\n")
            body: dict[str, Any] = json.loads(line)
        else:
            body, jpeg = json.loads(message.data), b""
    except ValueError as exc:
        raise Refused(f"not JSON: {exc}") from None
    if body.get("site") != site or body.get("kind") != parts[2]:
        raise Refused(f"says it is site {body.get('site')!r}'s, but came from {site!r}'s account")
    if parts[2] == "snapshot":
        relative = snapshot_path(site, body["camera"], body["event"])
        make_dirs_durable((snapshots / relative).parent)
        write_private(snapshots / relative, jpeg)
        body["path"] = relative
    elif parts[2] == "event":
        event = body["event"]
        relative = snapshot_path(site, event["camera"], event["id"])
        # The snapshot travels just before its event.
        event["clean_snapshot"] = relative if (snapshots / relative).exists() else None
    return Received(parts[2], body, int(body.get("sent_us", 0)))


class Ingest:
    def __init__(self, config: VigilConfig) -> None:
        settings = federation_of(config)
        self.settings = settings
        self.home = Home(settings.home(config.storage.path))
        self.engine = connect(config.database_url())
        migrate(self.engine)
        self.store = HubStore(self.engine)
        self.snapshots = Layout(config.storage.path).snapshots
        self.retriever = Retriever(
            self.engine, config.storage.path, open_audit_log(config, self.engine)
        )
        self.stopping = asyncio.Event()
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        partitioned = 0.0
        while not self.stopping.is_set():
            if time.monotonic() - partitioned > PARTITIONS_EVERY_S:
                await asyncio.to_thread(ensure_partitions, self.engine)
                partitioned = time.monotonic()
            for site in self.home.site_secrets():
                task = self.tasks.get(site.site)
                if task is None or task.done():
                    self.tasks[site.site] = asyncio.create_task(self._site(site))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), SITES_EVERY_S)
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def _site(self, site: SiteSecrets) -> None:
        labels = {"site": site.site}
        while not self.stopping.is_set():
            try:
                client = await nats.connect(
                    f"nats://127.0.0.1:{self.settings.client_port}",
                    user=site.ingest_user,
                    password=site.ingest_password,
                    name=f"vigil-ingest-{site.site}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                )
            except (OSError, nats.errors.Error, TimeoutError) as exc:
                log.warning(
                    "the hub's NATS server is not up yet", extra={**labels, "error": str(exc)}
                )
                await asyncio.sleep(2.0)
                continue
            retrieving = None
            try:
                js = client.jetstream()
                await self._ensure_stream(client, js, site.site)
                subscription = await js.pull_subscribe(
                    "",
                    durable=CONSUMER,
                    stream=HUB_STREAM,
                    config=ConsumerConfig(ack_policy=AckPolicy.ALL, max_ack_pending=4 * BATCH),
                )
                retrieving = asyncio.create_task(
                    self.retriever.run(client, site.site, self.stopping)
                )
                heard = checked = time.monotonic()
                while not self.stopping.is_set():
                    try:
                        messages = await subscription.fetch(BATCH, timeout=1.0)
                    except TimeoutError:  # nats.errors.TimeoutError is one too
                        messages = []
                    if messages:
                        heard = time.monotonic()
                        await self._store(client, site.site, messages)
                    elif time.monotonic() - max(heard, checked) > STALL_S:
                        checked = time.monotonic()
                        await self._unstall(client, js, site.site)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning(
                    "ingest lost the hub's NATS server; starting again",
                    extra={**labels, "error": f"{type(exc).__name__}: {exc}"},
                )
                await asyncio.sleep(1.0)
            finally:
                if retrieving is not None:
                    retrieving.cancel()
                await close(client)

    async def _unstall(self, client: Client, js: JetStreamContext, site: str) -> None:
        """Restart the hub's sourcing of a site whose stream holds messages the hub has not
        had for STALL_S with the link up. A source whose consumer on the leaf was lost (the
        leaf killed by a power cut just after the source was made) can wait minutes for
        nats-server's retry; removing the source and adding it back resumes it from the last
        message the hub's stream holds from it, so nothing is sourced twice."""
        try:
            reply = await client.request(f"$JS.{site}.API.STREAM.INFO.{STREAM}", b"", timeout=2)
            at_site = int(json.loads(reply.data)["state"]["last_seq"])
        except (nats.errors.Error, KeyError, ValueError):
            return  # the link is down: nothing to restart
        info = await js.stream_info(HUB_STREAM)
        at_hub = 0
        if info.state.last_seq:
            last = await js.get_msg(HUB_STREAM, info.state.last_seq)
            at_hub = source_seq(last) or 0
        if at_site <= at_hub:
            return
        log.warning(
            "the hub's sourcing of the site stalled; restarting it",
            extra={"site": site, "site_seq": at_site, "hub_has": at_hub},
        )
        await js.update_stream(dataclasses.replace(hub_stream(site), sources=[]))
        await js.update_stream(hub_stream(site))

    async def _ensure_stream(self, client: Client, js: JetStreamContext, site: str) -> None:
        """Make the stream that sources the site's, once the site's stream answers across the
        link: a source made while it cannot be reached is retried by nats-server only after a
        long backoff. An existing stream is kept as it is."""
        try:
            await js.stream_info(HUB_STREAM)
            return
        except nats.js.errors.NotFoundError:
            pass
        while not self.stopping.is_set():
            try:
                reply = await client.request(f"$JS.{site}.API.STREAM.INFO.{STREAM}", b"", timeout=2)
                if "error" not in json.loads(reply.data):
                    break
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                pass
            await asyncio.sleep(1.0)
        await js.add_stream(hub_stream(site))
        log.info("the hub now sources the site's stream", extra={"site": site})

    async def _store(self, client: Client, site: str, messages: list[Msg]) -> None:
        received, refused = [], 0
        for message in messages:
            try:
                received.append(parse(site, message, self.snapshots))
            except (Refused, KeyError) as exc:
                refused += 1
                log.error(
                    "a message was refused",
                    extra={"site": site, "error": str(exc), "subject": message.subject},
                )
        await asyncio.to_thread(self.store.ingest, site, received, refused)
        # AckPolicy.ALL: the last acknowledges the batch, and only after the commit.
        await messages[-1].ack()
        # Tell the site how far the hub has stored its stream, for its status.
        if (seq := source_seq(messages[-1])) is not None:
            await client.publish(ACKS, json.dumps({"seq": seq, "at_us": now_us()}).encode())


def main(argv: list[str]) -> int:
    return serve(argv, "vigil.federation.ingest", Ingest, "hub's ingest")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
