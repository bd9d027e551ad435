"""A console API on a real database with real footage, one account per role, for API tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from support.segments import write_segment
from vigil.accounts.store import Accounts
from vigil.accounts.throttle import RefusalThrottle
from vigil.api.app import create_app
from vigil.api.server import build
from vigil.box import Box
from vigil.config import parse_config
from vigil.events.ids import uuid7
from vigil.events.model import Event, EventUpdate
from vigil.events.store import EventStore
from vigil.storage.index import SegmentIndex
from vigil.timeutil import US, now_us

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "investigator", "admin", "auditor", "supervisor", "witness")
REASON = {"X-Vigil-Case": "CASE-2026/17", "X-Vigil-Reason": "checking the gate at night"}


@dataclass
class Console:
    directory: Path
    client: TestClient
    tokens: dict[str, str]  # role → bearer token of an account holding just that role
    event_id: str
    segment_ids: list[int]
    start_us: int
    end_us: int
    context: object = field(repr=False, default=None)

    def as_role(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}


def console_config(directory: Path, url: str | None = None) -> str:
    document = {
        "storage": {"path": str(directory / "storage"), "min_free": "0%"},
        "cameras": {
            "gate": {
                "main": "rtsp://127.0.0.1:1/gate",
                "purpose": "the north gate, against intrusion",
                "legal_basis": "Public Security Act, art. 12",
                "operator": "City Police, north division",
                "signage": True,
                "site": "north",
                "location": [33.31, 44.36],
            },
            "market": {
                "main": "rtsp://127.0.0.1:1/market",
                "purpose": "the south market",
                "site": "south",
                "location": [33.30, 44.40],
            },
        },
    }
    if url:
        document["database"] = {"url": url}
    path = directory / "vigil.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


@contextmanager
def open_console(
    directory: Path, camera_clip: Path, url: str | None = None, *, sweeps: bool = False
) -> Iterator[Console]:
    """The console API with footage, an event and accounts, over a new database: SQLite in
    `directory`, or the one at `url`. A console for `sweeps` takes thousands of deliberate
    refusals, so its refusal throttle never locks; the throttle has its own tests."""
    config = parse_config(Path(console_config(directory, url)).read_text())
    context = build(config)
    if sweeps:
        context.refusals = RefusalThrottle(limit=sys.maxsize)
    index = SegmentIndex(context.engine)
    start = now_us() - 120 * US
    at = start
    for _ in range(3):
        relative = write_segment(context.layout, camera_clip, "gate", at, 2.0, index)
        at = index.last_end("gate") or at
        assert relative
    segment_ids = [s.id for s in index.find("gate")]
    store = EventStore(context.engine, context.layout.snapshots)
    event = Event(
        uuid7(),
        "gate",
        "intrusion",
        start + US,
        start + 3 * US,
        "person",
        "yard",
        0.9,
        Box(100, 50, 200, 300),
    )
    frame = np.full((360, 640, 3), 90, np.uint8)
    store.apply(EventUpdate("end", event), frame)
    accounts = Accounts(context.engine)
    tokens = {}
    for role in ROLES:
        user = accounts.add(f"{role}1", PASSWORD, [role])
        tokens[role] = context.tokens.issue(user.id, "tests")
    with TestClient(create_app(context), base_url="http://127.0.0.1") as client:
        yield Console(directory, client, tokens, event.id, segment_ids, start, at, context)
    context.engine.dispose()


@pytest.fixture
def console(tmp_path: Path, camera_clip: Path) -> Iterator[Console]:
    with open_console(tmp_path, camera_clip) as built:
        yield built


@pytest.fixture(scope="module")
def module_console(
    tmp_path_factory: pytest.TempPathFactory, camera_clip: Path
) -> Iterator[Console]:
    """One console shared by a module's tests, for property tests that run many examples."""
    with open_console(tmp_path_factory.mktemp("console"), camera_clip, sweeps=True) as built:
        yield built
