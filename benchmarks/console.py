"""Console benchmark: the API at city scale, against the bare database queries it makes.

    .venv/bin/python benchmarks/console.py [--cameras 200] [--events 1000000] [--runs 50]

Builds a SQLite index with N cameras (20 sites), a day of 10 s segments per camera and the given
number of events spread over 30 days, then runs the real API process (`python -m
vigil.api.server`, as `vigil run` starts it) and times over HTTP, as an investigator with a
bearer token and a reason:
- event search filtered by camera and one day (every search also writes its audit record);
- the cameras page (GET /api/v1/cameras: every camera's state and storage);
- the HLS playlist of one hour of one camera.
Each is compared with the same query straight on the database in the same run (the baseline).
Targets: search p95 < 300 ms, cameras page < 1 s, playlist p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import insert

from vigil.accounts.sessions import Tokens
from vigil.accounts.store import Accounts
from vigil.config import load_config
from vigil.events.ids import uuid7
from vigil.events.store import EventStore
from vigil.storage.database import connect, migrate
from vigil.storage.index import SegmentIndex
from vigil.storage.report import status_report
from vigil.storage.schema import camera_totals, events, segments
from vigil.timeutil import US, now_us, to_iso

DAY_US = 86_400 * US
SEGMENT_US = 10 * US
TYPES = ("intrusion", "line_crossing", "stopped_vehicle", "unattended_object", "tamper")
REASON = {"X-Vigil-Case": "BENCH-1", "X-Vigil-Reason": "benchmarking the console"}
BATCH = 50_000


def write_config(directory: Path, cameras: int, port: int) -> Path:
    document = {
        "storage": {"path": str(directory / "storage"), "min_free": "0%"},
        "api": {"port": port},
        "cameras": {
            f"cam{n:03d}": {
                "main": f"rtsp://10.0.{n // 250}.{n % 250 + 1}/main",
                "purpose": "benchmark",
                "site": f"site{n % 20:02d}",
                "location": [33.3 + (n % 20) * 0.01, 44.3 + n * 0.0005],
            }
            for n in range(cameras)
        },
    }
    path = directory / "vigil.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def fill(engine, names: list[str], event_count: int, now: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    day_start = now - DAY_US
    with engine.begin() as connection:
        for name in names:
            rows = [
                {
                    "camera": name,
                    "start_us": t,
                    "end_us": t + SEGMENT_US,
                    "bytes": 4_500_000,
                    "path": f"{name}/{t}.ts",
                    "sha256": "0" * 64,
                    "state": "ok",
                }
                for t in range(day_start, now, SEGMENT_US)
            ]
            connection.execute(insert(segments), rows)
            # As SegmentIndex.add keeps them, in the same transaction as the rows.
            connection.execute(
                insert(camera_totals).values(
                    camera=name, segments=len(rows), bytes=sum(r["bytes"] for r in rows)
                )
            )
        for first in range(0, event_count, BATCH):
            rows = []
            for _ in range(min(BATCH, event_count - first)):
                start = now - rng.randrange(30 * DAY_US)
                rows.append(
                    {
                        "id": uuid7(start // 1000),
                        "camera": rng.choice(names),
                        "type": rng.choice(TYPES),
                        "label": "person",
                        "zone": "yard",
                        "start_us": start,
                        "end_us": start + rng.randrange(60 * US),
                        "attributes": {},
                        "updated_us": start,
                    }
                )
            connection.execute(insert(events), rows)


def timed(call, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]


def report(name: str, api: list[float], raw: list[float], target_s: float) -> None:
    ratio = p95(api) / p95(raw)
    verdict = "meets" if p95(api) < target_s else "MISSES"
    median = statistics.median(api) * 1000
    print(
        f"{name:<28} api p95 {p95(api) * 1000:7.1f} ms (median {median:6.1f})"
        f"   database alone p95 {p95(raw) * 1000:7.1f} ms   ratio {ratio:5.2f}"
        f"   {verdict} < {target_s * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument(
        "--directory", type=Path, help="keep the data here; a second run reuses it (same N)"
    )
    args = parser.parse_args()
    directory = args.directory or Path(tempfile.mkdtemp(prefix="vigil-console-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    filled = (directory / "storage" / "vigil.db").exists()
    config_path = write_config(directory, args.cameras, args.port)
    config = load_config(config_path)
    engine = connect(config.database_url())
    migrate(engine)
    names = sorted(config.cameras)
    if filled:
        now = SegmentIndex(engine).last_end(names[0]) or now_us()
        print(f"reusing {directory}")
    else:
        now = now_us()
        started = time.perf_counter()
        fill(engine, names, args.events, now)
        print(
            f"{args.cameras} cameras, {args.cameras * 8640:,} segments, {args.events:,} events "
            f"written in {time.perf_counter() - started:.0f} s ({directory})"
        )
    accounts = Accounts(engine)
    user = accounts.get("bench") or accounts.add(
        "bench", "a long passphrase for tests", ["investigator"]
    )
    tokens = Tokens(engine)
    tokens.revoke(user.id, "bench")
    token = tokens.issue(user.id, "bench")
    server = subprocess.Popen(
        [sys.executable, "-m", "vigil.api.server", str(config_path)], stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Bearer {token}", **REASON}
    rng = random.Random(11)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            store = EventStore(engine, directory / "snapshots")

            def day() -> tuple[str, int, int]:
                start = now - rng.randrange(1, 30) * DAY_US
                return rng.choice(names), start, start + DAY_US

            def api_search() -> None:
                camera, since, until = day()
                response = client.get(
                    "/api/v1/events",
                    params={"camera": camera, "since": to_iso(since), "until": to_iso(until)},
                )
                response.raise_for_status()

            def raw_search() -> None:
                camera, since, until = day()
                store.find(camera=camera, since_us=since, until_us=until)

            report(
                "event search (camera, day)",
                timed(api_search, args.runs),
                timed(raw_search, args.runs),
                0.3,
            )

            def api_cameras() -> None:
                client.get("/api/v1/cameras").raise_for_status()

            report(
                "cameras page",
                timed(api_cameras, max(5, args.runs // 5)),
                timed(lambda: status_report(config, engine), max(5, args.runs // 5)),
                1.0,
            )

            def hour() -> tuple[str, int, int]:
                start = now - rng.randrange(2, 23) * 3600 * US
                return rng.choice(names), start, start + 3600 * US

            def api_playlist() -> None:
                camera, since, until = hour()
                client.get(
                    f"/api/v1/playback/{camera}/playlist.m3u8",
                    params={"since": to_iso(since), "until": to_iso(until)},
                ).raise_for_status()

            index = SegmentIndex(engine)
            report(
                "playlist of an hour",
                timed(api_playlist, args.runs),
                timed(lambda: index.find(*hour()), args.runs),
                0.2,
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
