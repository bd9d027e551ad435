"""Federation at city scale on this machine: simulated sites, each a real leaf nats-server
with its own JetStream stream, publishing events into one real hub (nats-server, Vigil's
ingest, PostgreSQL).

    .venv/bin/python benchmarks/federation.py [--sites 50] [--cameras 20] [--steady-s 120]

Phases: steady state (each camera raises an event a minute on average, Poisson), a burst (10
events/s per site for 60 s), and an outage of 10 sites (their leaf links cut through a proxy
while an hour of their events piles up, then restored). It reports the hub's ingest rate (at full
speed while it drains the backlog, against the baseline measured in the same run: one plain
bulk INSERT of as many rows into the same PostgreSQL), replication lag p50/p95 (publish at
the site to insert at the hub), the catch-up time, bytes per event on the leaf links, the
hub's CPU and memory, and checks that every event published is at the hub exactly once. Each
event travels as one message (its ended state).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import psutil
import yaml
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.federation import LinkProxy, free_port
from support.postgres import PostgresServer
from vigil.events.ids import uuid7
from vigil.federation import pki
from vigil.federation.home import Credentials, Home, SiteSecrets
from vigil.federation.natsconf import LOCAL_USER, hub_config, leaf_config, render
from vigil.federation.outbox import encode
from vigil.federation.server import nats_server_binary
from vigil.federation.uplink import ensure_stream
from vigil.settings.federation import FederationSettings
from vigil.timeutil import now_us


def event_body(camera: str) -> dict[str, Any]:
    start = now_us()
    return {
        "event": {
            "id": uuid7(),
            "camera": camera,
            "type": "intrusion",
            "label": "person",
            "zone": "door",
            "start_us": start,
            "end_us": start + 4_000_000,
            "score": 0.81,
            "box_x1": 0.41,
            "box_y1": 0.22,
            "box_x2": 0.52,
            "box_y2": 0.71,
            "frame_width": 640,
            "frame_height": 360,
            "attributes": {},
            "updated_us": start,
        }
    }


class Site:
    def __init__(self, root: Path, name: str, hub_home: Home, leaf_port: int, cut: bool) -> None:
        self.name = name
        self.home = Home(root / name)
        self.home.create()
        secrets = SiteSecrets.new(name)
        hub_home.save_site(secrets)
        ca = pki.Issued(hub_home.ca.read_text(), hub_home.ca_key.read_text())
        cert = pki.issue(ca, f"site-{name}")
        credentials = Credentials(
            name, secrets.leaf_user, secrets.leaf_password, ca.cert_pem, cert.cert_pem, cert.key_pem
        )
        for path, pem in (
            (self.home.ca, ca.cert_pem),
            (self.home.cert, cert.cert_pem),
            (self.home.key, cert.key_pem),
        ):
            path.write_text(pem)
        self.proxy = LinkProxy(leaf_port) if cut else None
        port = self.proxy.port if self.proxy else leaf_port
        self.settings = FederationSettings(
            role="site",
            site=name,
            hub=f"tls://127.0.0.1:{port}",
            credentials=self.home.root / "unused.json",
            client_port=free_port(),
            monitor_port=free_port(),
            max_bytes=200_000_000,
        )
        conf = leaf_config(self.settings, self.home, credentials, self.home.local_password())
        self.home.nats_config.write_bytes(render(conf))
        self.published: set[str] = set()
        self.sent_bytes = 0

    def start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [nats_server_binary(), "-c", str(self.home.nats_config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def connect(self) -> None:
        self.client = await nats.connect(
            f"nats://127.0.0.1:{self.settings.client_port}",
            user=LOCAL_USER,
            password=self.home.local_password(),
        )
        self.js = self.client.jetstream()
        await ensure_stream(self.js, self.settings)

    async def publish(self, cameras: int) -> None:
        body = event_body(f"cam-{random.randrange(cameras):02d}")
        data = encode(self.name, "event", body)
        event_id = body["event"]["id"]
        await self.js.publish(
            f"vigil.{self.name}.event.{body['event']['camera']}",
            data,
            headers={"Nats-Msg-Id": f"{event_id}.end"},
        )
        self.published.add(event_id)
        self.sent_bytes += len(data)


async def drive(sites: list[Site], per_site_hz: float, seconds: float, cameras: int) -> None:
    """Every site publishes a Poisson stream of `per_site_hz` events a second for `seconds`."""

    async def one(site: Site) -> None:
        deadline = time.monotonic() + seconds
        while (now := time.monotonic()) < deadline:
            await asyncio.sleep(min(random.expovariate(per_site_hz), deadline - now))
            await site.publish(cameras)

    await asyncio.gather(*(one(site) for site in sites))


def hub_count(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM events")))


def wait_for_count(engine: Any, wanted: int, timeout: float) -> float:
    started = time.monotonic()
    while hub_count(engine) < wanted:
        if time.monotonic() - started > timeout:
            raise SystemExit(
                f"the hub has {hub_count(engine)} of {wanted} events after {timeout} s"
            )
        time.sleep(0.2)
    return time.monotonic() - started


def lag(engine: Any, since_us: int, until_us: int) -> dict[str, float]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ingested_us - start_us), "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY ingested_us - start_us), count(*) "
                "FROM events WHERE start_us >= :a AND start_us < :b"
            ),
            {"a": since_us, "b": until_us},
        ).one()
    return {"p50_s": round(row[0] / 1e6, 3), "p95_s": round(row[1] / 1e6, 3), "events": row[2]}


def baseline_insert_rate(url: str, rows: int) -> float:
    """Rows a second of one bulk INSERT of event-sized rows into a scratch table."""
    engine = create_engine(url)
    values = [{"id": uuid7(), "body": json.dumps(event_body("cam-00"))} for _ in range(rows)]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE scratch (id text PRIMARY KEY, body json)"))
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO scratch VALUES (:id, CAST(:body AS json))"), values)
    elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE scratch"))
    engine.dispose()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--cameras", type=int, default=20)
    parser.add_argument("--steady-s", type=float, default=120)
    parser.add_argument("--outage-sites", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vigil-federation-bench-"))
    postgres = PostgresServer()
    postgres.start()
    processes: list[subprocess.Popen[bytes]] = []
    sites: list[Site] = []
    try:
        url = postgres.new_database()
        hub_home = Home(root / "hub" / "federation")
        hub_home.create()
        ca = pki.make_ca()
        hub_cert = pki.issue(ca, "hub", ["127.0.0.1"])
        for path, pem in (
            (hub_home.ca, ca.cert_pem),
            (hub_home.ca_key, ca.key_pem),
            (hub_home.cert, hub_cert.cert_pem),
            (hub_home.key, hub_cert.key_pem),
        ):
            path.write_text(pem)
        leaf_port, client_port, monitor_port = free_port(), free_port(), free_port()
        hub_settings = {
            "role": "hub",
            "database": url,
            "leaf_listen": f"127.0.0.1:{leaf_port}",
            "client_port": client_port,
            "monitor_port": monitor_port,
        }
        config = root / "hub.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {"path": str(root / "hub")},
                    "api": {"enabled": False},
                    "federation": hub_settings,
                }
            )
        )
        sites = [
            Site(root / "sites", f"site-{n:02d}", hub_home, leaf_port, cut=n < args.outage_sites)
            for n in range(args.sites)
        ]
        settings = FederationSettings(**hub_settings)
        hub_home.nats_config.write_bytes(
            render(
                hub_config(settings, hub_home, hub_home.site_secrets(), hub_home.local_password())
            )
        )
        hub_nats = subprocess.Popen(
            [nats_server_binary(), "-c", str(hub_home.nats_config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(hub_nats)
        processes.extend(site.start() for site in sites)
        time.sleep(2)
        with open(root / "ingest.log", "wb") as ingest_log:
            ingest = subprocess.Popen(
                [sys.executable, "-m", "vigil.federation.ingest", str(config)], stderr=ingest_log
            )
        processes.append(ingest)
        engine = create_engine(url)
        hub_processes = [psutil.Process(hub_nats.pid), psutil.Process(ingest.pid)]

        async def run() -> dict[str, Any]:
            for site in sites:
                await site.connect()
            while hub_count_safe(engine) is None:
                await asyncio.sleep(0.5)
            cpu0 = sum(sum(p.cpu_times()[:2]) for p in hub_processes)
            clock0 = time.monotonic()
            steady_hz = args.cameras / 60
            t0 = now_us()
            await drive(sites, steady_hz, args.steady_s, args.cameras)
            t1 = now_us()
            total = sum(len(s.published) for s in sites)
            await asyncio.to_thread(wait_for_count, engine, total, 120)
            steady = lag(engine, t0, t1)
            burst_start, before = time.monotonic(), hub_count(engine)
            await drive(sites, 10, 60, args.cameras)
            total = sum(len(s.published) for s in sites)
            await asyncio.to_thread(wait_for_count, engine, total, 300)
            burst_s = time.monotonic() - burst_start
            burst = {
                "events": total - before,
                "seconds": round(burst_s, 1),
                "ingest_per_s": round((total - before) / burst_s, 1),
                **lag(engine, t1, now_us()),
            }
            # The outage: the cut sites' links down while an hour of their events piles up.
            cut = [s for s in sites if s.proxy is not None]
            for site in cut:
                site.proxy.cut()  # type: ignore[union-attr]
            hour = int(args.cameras * 60)
            for site in cut:
                for _ in range(hour):
                    await site.publish(args.cameras)
            total = sum(len(s.published) for s in sites)
            for site in cut:
                site.proxy.restore()  # type: ignore[union-attr]
            catch_up = await asyncio.to_thread(wait_for_count, engine, total, 900)
            cpu = sum(sum(p.cpu_times()[:2]) for p in hub_processes) - cpu0
            wall = time.monotonic() - clock0
            rss = sum(p.memory_info().rss for p in hub_processes)
            return {
                "steady": steady,
                "burst": burst,
                "outage": {
                    "sites": len(cut),
                    "backlog_events": hour * len(cut),
                    "catch_up_s": round(catch_up, 1),
                    # Draining a backlog is the hub's ingest at full speed.
                    "catch_up_per_s": round(hour * len(cut) / catch_up),
                },
                "hub_cpu_cores": round(cpu / wall, 2),
                "hub_rss_mb": round(rss / 2**20),
                "published": total,
            }

        report = asyncio.run(run())
        with engine.connect() as connection:
            ids = set(connection.scalars(text("SELECT id FROM events")))
        published = set().union(*(s.published for s in sites))
        report["lost"] = len(published - ids)
        report["unexpected"] = len(ids - published)
        report["bytes_per_event"] = round(sum(s.sent_bytes for s in sites) / len(published))
        baseline = baseline_insert_rate(url, report["outage"]["backlog_events"])
        report["baseline_bulk_insert_per_s"] = round(baseline)
        report["catch_up_vs_bulk_insert"] = round(report["outage"]["catch_up_per_s"] / baseline, 4)
        print(json.dumps(report, indent=2))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        for site in sites:
            if site.proxy is not None:
                site.proxy.close()
        postgres.stop()


def hub_count_safe(engine: Any) -> int | None:
    try:
        return hub_count(engine)
    except Exception:
        return None


if __name__ == "__main__":
    main()
