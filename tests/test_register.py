"""The public camera register and Vigil's boundary: the register shows every camera's purpose
to anyone, and nothing that opens footage; the analytics vocabulary is closed, and a
configuration asking for what Vigil never does is refused by name."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from support.console import Console
from vigil.boundary import FORBIDDEN
from vigil.cli import app
from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.events.model import EventType
from vigil.oversight.register import ANALYTICS, analytics_of

pytest_plugins = ["support.console"]


def test_anyone_reads_the_register_and_it_opens_no_footage(console: Console) -> None:
    console.client.cookies.clear()
    page = console.client.get("/register")  # no account
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "the north gate, against intrusion" in page.text
    assert "Public Security Act, art. 12" in page.text
    assert "City Police, north division" in page.text
    document = console.client.get("/register", params={"format": "json"}).json()
    gate = next(c for c in document["cameras"] if c["camera"] == "gate")
    assert gate == {
        "site": "north", "camera": "gate", "location": [33.31, 44.36],
        "purpose": "the north gate, against intrusion",
        "legal_basis": "Public Security Act, art. 12", "operator": "City Police, north division",
        "signage": True, "recording": True, "retention_days": 30.0, "privacy_masks": 0,
        "analytics": ["camera_offline"],
    }  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(console.client.get("/register?format=csv").text)))
    assert {row["camera"] for row in rows} == {"gate", "market"}
    for text in (page.text, json.dumps(document), str(rows)):
        for leak in ("rtsp://", "127.0.0.1", "/api/", "<video", ".mp4", ".jpg", "snapshot"):
            assert leak not in text, leak


def test_the_command_line_prints_the_same_register(console: Console) -> None:
    config = console.directory / "vigil.yaml"
    done = CliRunner().invoke(app, ["register", "-c", str(config), "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == console.client.get("/register?format=json").json()
    wrong = CliRunner().invoke(app, ["register", "-c", str(config), "--format", "pdf"])
    assert wrong.exit_code == 1 and "use html, json or csv" in wrong.output


def test_every_event_type_is_explained_in_the_register() -> None:
    """A new kind of event cannot be added without the public being told what it is."""
    assert set(ANALYTICS) == set(get_args(EventType))


def test_the_register_lists_the_rules_a_camera_runs() -> None:
    config = parse_config(
        "cameras:\n  gate:\n    main: rtsp://h/x\n    purpose: the gate\n    tamper: true\n"
        "    unattended_object: {seconds: 30}\n    lines: {door: {points: [[0, 0.5], [1, 0.5]]}}\n"
        "    zones:\n      yard: {polygon: [[0, 0], [1, 0], [1, 1]], intrusion: {}}\n"
    )
    assert analytics_of(config.cameras["gate"]) == [
        "intrusion", "line_crossing", "unattended_object", "tamper", "camera_offline"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "capability"),
    [("face_recognition", "face recognition"), ("anpr", "plate reading"),
     ("reid", "re-identification"), ("crowd_count", "crowd counting alerts"),
     ("gender", "demographic attributes"), ("watchlist", "watchlists")],
)  # fmt: skip
def test_a_forbidden_capability_is_refused_by_name(
    tmp_path: Path, key: str, capability: str
) -> None:
    assert FORBIDDEN[key] == capability
    text = f"cameras:\n  gate:\n    main: rtsp://h/x\n    purpose: the gate\n    {key}: true\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    message = str(raised.value)
    assert f"cameras.gate.{key} (line 5): Vigil does not provide {capability}" in message
    assert "unknown key" not in message, "said once, as what it is"
