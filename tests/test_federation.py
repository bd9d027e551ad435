"""Federation on loopback: a hub and two sites, each a real `vigil run` with its own
nats-server (leaf nodes in their own JetStream domains, TLS, an account per site), PostgreSQL at
the hub, and each site's link to the hub through a proxy process that cuts it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import psutil
import pytest
from fastapi.testclient import TestClient
from nats.aio.msg import Msg
from playwright.sync_api import Browser
from sqlalchemy import Engine, select, text

from support.assets import needs
from support.browser import (
    CHROMIUM,
    PASSWORD,
    add_accounts,
    console,
    new_page,
    shot,
    sign_in,
)
from support.federation import Federation, free_port
from support.fixtures import RtspServer
from support.postgres import PostgresServer
from support.vigil import Vigil, wait_for
from vigil.accounts.store import Accounts
from vigil.api.app import create_app
from vigil.api.server import build
from vigil.audit import open_audit_log
from vigil.audit.log import AuditRecord
from vigil.events.ids import uuid7
from vigil.events.model import Event, EventUpdate
from vigil.events.store import EventStore
from vigil.federation.home import Credentials, Home
from vigil.federation.natsconf import LOCAL_USER
from vigil.federation.trails import verify_site
from vigil.storage.database import connect, migrate
from vigil.storage.evidence import CaseStore
from vigil.storage.hub import HubStore
from vigil.storage.retrievals import Retrieval, RetrievalStore
from vigil.storage.schema import audit_records, events, site_segments, sites
from vigil.timeutil import now_us, to_iso

pytest_plugins = ["support.browser"]  # the `browser` fixture: Debian's Chromium
pytestmark = pytest.mark.slow
CAMERAS = ("gate", "hall")


class SiteWriter:
    """Writes events (each started, then ended) and audit records into a site's database, as
    its camera processes and API would, until stopped."""

    def __init__(self, site: Vigil, every: float = 0.05) -> None:
        config = site.config
        self.engine = connect(config.database_url())
        migrate(self.engine)
        self.store = EventStore(self.engine, site.storage / "snapshots")
        self.audit = open_audit_log(config, self.engine)
        self.every = every
        self.stopping = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            camera = CAMERAS[self.written % len(CAMERAS)]
            event = Event(uuid7(), camera, "intrusion", now_us(), label="person", zone="door")
            self.store.apply(EventUpdate("new", event))
            self.store.apply(EventUpdate("end", event))
            if self.written % 4 == 0:
                self.audit.append(
                    AuditRecord(
                        "test",
                        "investigator",
                        "playback",
                        "ok",
                        "api",
                        [camera],
                        reason="federation test",
                    )
                )
            self.written += 1
            time.sleep(self.every)

    def __enter__(self) -> SiteWriter:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join()


def site_events(site: Vigil) -> dict[str, int | None]:
    engine = connect(site.config.database_url())
    with engine.connect() as connection:
        found = dict(connection.execute(select(events.c.id, events.c.end_us)).all())
    engine.dispose()
    return found


def hub_events(hub: Engine, site: str) -> dict[str, int | None]:
    with hub.connect() as connection:
        rows = connection.execute(select(events.c.id, events.c.end_us).where(events.c.site == site))
        return dict(rows.all())


def wait_caught_up(hub: Engine, site: Vigil, name: str, timeout: float = 120) -> None:
    wanted = site_events(site)
    try:
        wait_for(
            f"every event of {name} at the hub", lambda: hub_events(hub, name) == wanted, timeout
        )
    except AssertionError:
        got = hub_events(hub, name)
        missing = set(wanted) - set(got)
        unended = [k for k in wanted if k in got and got[k] != wanted[k]]
        raise AssertionError(
            f"{name}: {len(wanted)} events at the site, {len(got)} at the hub, "
            f"{len(missing)} missing, {len(unended)} with another end"
        ) from None


@pytest.fixture(scope="module")
def federation(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, camera_clip: Path
) -> Iterator[Federation]:
    made = Federation(tmp_path_factory.mktemp("federation"), postgres_server.new_database())
    camera = RtspServer({"gate": camera_clip}, free_port())
    camera.start()
    # alpha records a real camera (its footage is what the hub retrieves); ~100 KB/s uplink.
    made.add_site(
        "alpha",
        {"gate": {"main": camera.url("gate")}},
        {"uplink_kbps": 800},
        audit={"checkpoint_every": 10},
    )
    made.add_site("beta", audit={"checkpoint_every": 10})
    made.hub.start()
    for site in made.sites.values():
        site.start()
    yield made
    made.close()
    camera.stop()


@pytest.fixture(scope="module")
def hub(federation: Federation) -> Iterator[Engine]:
    engine = connect(federation.hub.config.database_url())
    wait_for("the hub's schema", lambda: _has_sites_table(engine), 60)
    yield engine
    engine.dispose()


def _has_sites_table(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(select(sites.c.name).limit(1))
        return True
    except Exception:
        return False


def test_every_event_reaches_the_hub_once_in_order_through_a_hundred_link_cuts(
    federation: Federation, hub: Engine
) -> None:
    random.seed(7796)
    writers = [SiteWriter(site) for site in federation.sites.values()]
    for writer in writers:
        writer.__enter__()
    try:
        for _ in range(100):
            name = random.choice(list(federation.proxies))
            federation.proxies[name].cut()
            time.sleep(random.uniform(0.05, 0.6))
            federation.proxies[name].restore()
            time.sleep(random.uniform(0.1, 0.8))
    finally:
        for writer in writers:
            writer.__exit__()
    assert all(writer.written > 500 for writer in writers), [w.written for w in writers]
    for name, site in federation.sites.items():
        wait_caught_up(hub, site, name)
        # Exactly once: the hub's rows are the site's, no more (the key forbids two of one id).
        assert hub_events(hub, name) == site_events(site)
        # In the site's order within each camera: first arrivals at the hub follow the starts.
        with hub.connect() as connection:
            for camera in CAMERAS:
                starts = list(
                    connection.scalars(
                        select(events.c.start_us)
                        .where(events.c.site == name, events.c.camera == camera)
                        .order_by(events.c.ingested_us)
                    )
                )
                assert starts == sorted(starts), f"{name}/{camera} arrived out of order"
        # The site's trail, as the hub holds it, verifies with the site's signatures.
        engine = connect(site.config.database_url())
        with engine.connect() as connection:
            head = connection.scalar(
                select(audit_records.c.seq).order_by(audit_records.c.seq.desc()).limit(1)
            )
        wait_for(
            f"{name}'s audit trail at the hub",
            lambda n=name, h=head: verify_site(HubStore(hub), n).records == h,
            60,
        )
        report = verify_site(HubStore(hub), name)
        assert report.ok, report.problems
        assert report.checkpoints > 0 and report.signatures_checked
    # nats-server #7796: sourcing duplicated messages after a leaf reconnect. The hub's
    # stream of each site holds exactly as many messages as the site's stream.
    for name in federation.sites:
        assert stream_messages(federation, name, hub_side=True) == stream_messages(
            federation, name, hub_side=False
        )


def stream_messages(federation: Federation, name: str, hub_side: bool) -> int:
    async def count() -> int:
        if hub_side:
            secrets = next(s for s in Home(federation.hub_home).site_secrets() if s.site == name)
            port = federation.hub.config.federation.client_port  # type: ignore[union-attr]
            client = await nats.connect(
                f"nats://127.0.0.1:{port}",
                user=secrets.ingest_user,
                password=secrets.ingest_password,
            )
            stream = "SITE"
        else:
            site = federation.sites[name]
            settings = site.config.federation
            assert settings is not None
            client = await nats.connect(
                f"nats://127.0.0.1:{settings.client_port}",
                user=LOCAL_USER,
                password=Home(settings.home(site.storage)).local_password(),
            )
            stream = "VIGIL"
        try:
            info = await client.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def test_a_power_cut_at_the_site_loses_nothing_the_site_committed(
    federation: Federation, hub: Engine
) -> None:
    site = federation.sites["alpha"]
    with SiteWriter(site, every=0.01) as writer:
        time.sleep(3)
        site.kill_tree()  # Vigil, its uplink and its leaf, at once
        time.sleep(0.5)
    assert writer.written > 100
    site.start()
    wait_caught_up(hub, site, "alpha", timeout=120)


def test_status_shows_the_link_the_backlog_and_the_last_ack(
    federation: Federation, hub: Engine
) -> None:
    site = federation.sites["beta"]
    with SiteWriter(site):
        time.sleep(2)
    wait_caught_up(hub, site, "beta")
    report = wait_for(
        "beta's backlog at 0",
        lambda: (r := json.loads(federation.status(site))) and r["hub_backlog"] == 0 and r,
        30,
    )
    assert report["link"] == "up" and report["last_hub_ack"] is not None
    assert report["not_in_stream"] == {"audit_records": 0, "events": 0}
    report = json.loads(federation.status(federation.hub))
    by_site = {entry["site"]: entry for entry in report["sites"]}
    assert set(by_site) == {"alpha", "beta"}
    assert by_site["beta"]["link"] == "up" and by_site["beta"]["events_last_hour"] > 0
    assert by_site["beta"]["lag_p95_s"] is not None
    federation.proxies["beta"].cut()
    try:
        wait_for(
            "beta down at the hub",
            lambda: (
                {e["site"]: e for e in json.loads(federation.status(federation.hub))["sites"]}[
                    "beta"
                ]["link"]
                == "down"
            ),
            30,
        )
        assert json.loads(federation.status(site))["link"] == "down"
    finally:
        federation.proxies["beta"].restore()


def test_a_site_cannot_read_another_site_or_speak_for_it(
    federation: Federation, hub: Engine
) -> None:
    """Site alpha's credentials reach alpha's account only, and a message alpha sends in
    beta's name is refused by the hub."""
    credentials = Credentials.load(federation.directory / "alpha.credentials.json")
    port = federation.hub.config.federation.client_port  # type: ignore[union-attr]

    async def as_alpha() -> tuple[list[str], bool]:
        client = await nats.connect(
            f"nats://127.0.0.1:{port}", user=credentials.user, password=credentials.password
        )
        seen: list[str] = []

        async def heard(message: Msg) -> None:
            seen.append(message.subject)

        await client.subscribe(">", cb=heard)
        with SiteWriter(federation.sites["beta"]):
            await asyncio.sleep(3)
        try:
            # The hub's own JetStream API is closed to a site (it could delete what the hub
            # keeps of it).
            await client.request("$JS.hub.API.STREAM.INFO.SITE", b"", timeout=2)
            reached_hub_api = True
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            reached_hub_api = False
        await client.close()
        return seen, reached_hub_api

    seen, reached_hub_api = asyncio.run(as_alpha())
    assert not [subject for subject in seen if "beta" in subject], seen[:5]
    assert not reached_hub_api

    # alpha's own stream, a message claiming to be beta's.
    site = federation.sites["alpha"]
    settings = site.config.federation
    assert settings is not None
    forged = uuid7()

    async def forge() -> None:
        client = await nats.connect(
            f"nats://127.0.0.1:{settings.client_port}",
            user=LOCAL_USER,
            password=Home(settings.home(site.storage)).local_password(),
        )
        body = {
            "site": "beta",
            "kind": "event",
            "sent_us": now_us(),
            "event": {
                "id": forged,
                "camera": "gate",
                "type": "intrusion",
                "start_us": now_us(),
                "end_us": None,
                "label": None,
                "zone": None,
                "score": None,
                "box_x1": None,
                "box_y1": None,
                "box_x2": None,
                "box_y2": None,
                "frame_width": None,
                "frame_height": None,
                "attributes": {},
                "updated_us": now_us(),
            },
        }
        await client.jetstream().publish("vigil.alpha.event.gate", json.dumps(body).encode())
        await client.close()

    with hub.connect() as connection:
        refused_before = connection.scalar(select(sites.c.refused).where(sites.c.name == "alpha"))
    asyncio.run(forge())
    wait_for("the forged message refused", lambda: _refused(hub, "alpha") > refused_before, 30)
    with hub.connect() as connection:
        assert connection.scalar(select(events.c.id).where(events.c.id == forged)) is None


def _refused(hub: Engine, site: str) -> int:
    with hub.connect() as connection:
        return int(connection.scalar(select(sites.c.refused).where(sites.c.name == site)) or 0)


def test_partitions_are_made_ahead_and_take_stranded_rows(hub: Engine) -> None:
    from vigil.storage.partitions import ensure_partitions

    ensure_partitions(hub)
    with hub.connect() as connection:
        names = set(
            connection.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
                )
            )
        )
    this_month = time.strftime("events_%Y_%m", time.gmtime())
    assert this_month in names and len(names) >= 5  # default, this month, three ahead
    # An event from long ago (a site back after months away) lands in DEFAULT, then moves.
    old = now_us() - 400 * 86_400 * 1_000_000
    month = time.strftime("events_%Y_%m", time.gmtime(old / 1e6))
    with hub.begin() as connection:
        connection.execute(
            events.insert().values(
                id=uuid7(),
                camera="gate",
                type="intrusion",
                start_us=old,
                attributes={},
                updated_us=old,
                site="gamma",  # no site of this federation: its events stay as they are
            )
        )
    with hub.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM events_default")) == 1
    assert month in ensure_partitions(hub)
    with hub.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM events_default")) == 0
        assert connection.scalar(text(f"SELECT count(*) FROM {month}")) == 1


def test_retrieval_survives_a_dropped_link_and_matches_the_index(
    federation: Federation, hub: Engine
) -> None:
    """An investigator at the hub asks for a range of alpha's gate; the site audits the job on
    arrival and sends the segments under its uplink cap; the link drops mid-transfer; the job
    completes when it returns, and every segment is the site's, byte for byte."""
    site = federation.sites["alpha"]
    recorded = site.wait_segments("gate", 5, timeout=90)[:4]
    since, until = recorded[0].start_us, recorded[-1].end_us
    ids = {segment.id for segment in recorded}
    wait_for("alpha's segment index at the hub", lambda: ids <= _hub_segment_ids(hub), 60)

    hub_audit = open_audit_log(federation.hub.config, hub)

    def audit(connection: Any, action: str, detail: Any) -> int:
        record = AuditRecord(
            "ines",
            "investigator",
            action,
            "ok",
            "api",
            ["gate"],
            since,
            until,
            "the bag at the gate",
            detail=detail,
        )
        return hub_audit.append(record, connection).seq

    CaseStore(hub).open("CASE-7", "the bag at the gate", "", "ines", audit)
    job = RetrievalStore(hub).request(
        "alpha", "gate", (since, until), "CASE-7", "the bag at the gate", "ines", audit
    )
    wait_for(
        "the first segment at the hub", lambda: _job(hub, job.id).segments_done >= 1, 60, every=0.1
    )
    assert _job(hub, job.id).state == "running"
    federation.proxies["alpha"].cut()
    time.sleep(3)
    assert _job(hub, job.id).state == "running"
    federation.proxies["alpha"].restore()
    done = wait_for(
        "the retrieval complete",
        lambda: (j := _job(hub, job.id)).state in ("complete", "failed") and j,
        120,
    )
    assert done.state == "complete", done.error
    assert done.segments_done == len(recorded)
    root = federation.hub.storage / "retrieved"
    with hub.connect() as connection:
        rows = {
            row.segment_id: row
            for row in connection.execute(
                select(site_segments).where(
                    site_segments.c.segment_id.in_(ids), site_segments.c.site == "alpha"
                )
            )
        }
    for segment in recorded:
        row = rows[segment.id]
        assert row.state == "retrieved"
        copy = (root / row.path).read_bytes()
        assert copy == (site.storage / "recordings" / segment.path).read_bytes()
        assert hashlib.sha256(copy).hexdigest() == segment.sha256
    # Audited at the hub (asked, complete) and at the site, on arrival.
    with hub.connect() as connection:
        actions = list(connection.scalars(select(audit_records.c.action)))
    assert {"retrieval.request", "retrieval.complete"} <= set(actions)
    engine = connect(site.config.database_url())
    with engine.connect() as connection:
        served = connection.execute(
            select(audit_records).where(audit_records.c.action == "retrieval.serve")
        ).all()
    assert served and served[0].actor == "ines@hub" and served[0].reason == "the bag at the gate"


def _hub_segment_ids(hub: Engine) -> set[int]:
    with hub.connect() as connection:
        return set(
            connection.scalars(
                select(site_segments.c.segment_id).where(
                    site_segments.c.site == "alpha", site_segments.c.camera == "gate"
                )
            )
        )


def _job(hub: Engine, job_id: int) -> Retrieval:
    found = next(j for j in RetrievalStore(hub).list(None) if j.id == job_id)
    return found


def test_the_hub_console_api_shows_every_site_in_scope(federation: Federation, hub: Engine) -> None:
    """The hub's API over its PostgreSQL: sites with their links and lag, events from all sites
    with a site's filters, the timeline's states, retrievals; an account scoped to one site sees
    that site alone, and asking for another is a 404 audited as a denial."""
    for name, site in federation.sites.items():
        with SiteWriter(site):
            time.sleep(1)
        wait_caught_up(hub, site, name)
    context = build(federation.hub.config)
    accounts = Accounts(context.engine)
    password = "a long enough password 1"
    tokens = {
        name: context.tokens.issue(accounts.add(name, password, roles, sites=sites).id, "tests")
        for name, roles, sites in (
            ("hub-investigator", ["investigator"], None),
            ("beta-investigator", ["investigator"], ["beta"]),
        )
    }
    reason = {"X-Vigil-Case": "CASE-7", "X-Vigil-Reason": "the bag at the gate"}

    def get(who: str, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[who]}", **reason}
        return client.get(path, headers=headers, params=params)

    with TestClient(create_app(context), base_url="http://127.0.0.1") as client:
        sites_seen = get("hub-investigator", "/api/v1/federation/sites").json()["sites"]
        by_name = {entry["site"]: entry for entry in sites_seen}
        assert set(by_name) == {"alpha", "beta"}
        assert by_name["alpha"]["link"] == "up" and by_name["alpha"]["cameras"] >= 1
        scoped = get("beta-investigator", "/api/v1/federation/sites").json()["sites"]
        assert [entry["site"] for entry in scoped] == ["beta"]

        found = get(
            "hub-investigator",
            "/api/v1/federation/events",
            since=to_iso(now_us() - 3600 * 10**6),
            limit=1000,
        ).json()["events"]
        assert {event["site"] for event in found} == {"alpha", "beta"}
        only_beta = get(
            "beta-investigator",
            "/api/v1/federation/events",
            since=to_iso(now_us() - 3600 * 10**6),
            limit=1000,
        ).json()["events"]
        assert only_beta and {event["site"] for event in only_beta} == {"beta"}
        refused = get("beta-investigator", "/api/v1/federation/events", site="alpha")
        assert refused.status_code == 404

        line = get(
            "hub-investigator",
            "/api/v1/federation/sites/alpha/cameras/gate/timeline",
            since=to_iso(now_us() - 3600 * 10**6),
        ).json()["segments"]
        assert {"retrieved", "available"} <= {segment["state"] for segment in line}
        jobs = client.get(
            "/api/v1/federation/retrievals",
            headers={"Authorization": f"Bearer {tokens['hub-investigator']}"},
        )
        assert [job["state"] for job in jobs.json()["retrievals"]] == ["complete"]
        asked = client.post(
            "/api/v1/federation/retrievals",
            headers={"Authorization": f"Bearer {tokens['beta-investigator']}"},
            json={
                "site": "alpha",
                "camera": "gate",
                "since": "2026-01-01T00:00:00Z",
                "until": "2026-01-01T00:01:00Z",
                "case": "CASE-7",
                "reason": "out of scope",
            },
        )
        assert asked.status_code == 404
    with hub.connect() as connection:
        denials = connection.execute(
            select(audit_records).where(
                audit_records.c.actor == "beta-investigator", audit_records.c.outcome == "denied"
            )
        ).all()
    assert len(denials) >= 2
    context.engine.dispose()


@needs(CHROMIUM, hint="Debian's chromium, which scripts/setup.sh test installs")
def test_the_hub_console_shows_the_sites(
    federation: Federation,
    browser: Browser,
) -> None:
    """In the hub's console a viewer sees every site with its link and cameras; the page is
    offered only at a hub."""
    add_accounts(federation.hub, {"hub-viewer": ["viewer"]})
    url = console(federation.hub)
    page, errors = new_page(browser)
    sign_in(page, url, "hub-viewer", PASSWORD)
    page.locator("nav a[data-page=sites]").click()
    for name in ("alpha", "beta"):
        page.locator(f"tr[data-site={name}]").wait_for(timeout=20000)
    assert "up" in page.locator("tr[data-site=alpha]").inner_text()
    shot(page, "hub-sites")
    assert not errors, errors
    page.close()


def test_nodes_stop_cleanly_with_their_nats_servers(federation: Federation) -> None:
    """SIGTERM stops a site and the hub with every child, their nats-servers included, even
    while a site's leaf has lost its link (nats-py's close would wait forever for it)."""
    federation.proxies["beta"].cut()
    time.sleep(2)
    for node in [*federation.sites.values(), federation.hub]:
        assert node.process is not None
        group = node.process.pid
        assert node.stop(timeout=40) == 0
        wait_for(f"{node.directory.name}'s children gone", lambda g=group: not _in_group(g), 20)
    federation.proxies["beta"].restore()


def _in_group(group: int) -> list[int]:
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.info["pid"]) == group:
                found.append(process.info["pid"])
        except (ProcessLookupError, PermissionError):
            continue
    return found
