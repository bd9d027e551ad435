"""The transparency report over a seeded audit trail: its counts are those computed directly
from the trail; it flags erasures before a camera's declared retention, says whether the trail
verifies, and comes as HTML (with its chart), JSON and PDF."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from typer.testing import CliRunner

from support.console import Console
from vigil.audit import AuditRecord, read_records
from vigil.cli import app
from vigil.oversight.report import ACCESSES, transparency
from vigil.timeutil import DAY_US, now_us, to_iso

pytest_plugins = ["support.console"]


def _seed(console: Console) -> None:
    log = console.context.audit_log  # type: ignore[attr-defined]
    now = now_us()

    def add(
        actor: str,
        role: str,
        action: str,
        outcome: str = "ok",
        cameras: tuple[str, ...] = (),
        reason: str | None = None,
        since: int | None = None,
        until: int | None = None,
        **detail: Any,
    ) -> None:
        log.append(
            AuditRecord(
                actor, role, action, outcome, "test", list(cameras), since, until, reason, detail
            )
        )

    for _ in range(3):
        add(
            "ann", "investigator", "playback", cameras=("gate",), reason="C-1: the fire", case="C-1"
        )
    add("ann", "investigator", "playback", cameras=("gate",), reason="C-1: the smoke", case="C-1")
    for _ in range(2):
        add(
            "bob",
            "investigator",
            "snapshot.view",
            cameras=("market",),
            reason="C-2: a bag left",
            case="C-2",
        )
    add("vic", "viewer", "live.start", cameras=("gate",))
    add("eve", "investigator", "playback", "denied", ("market",), why="scope")
    add("eve", "investigator", "playback", "denied", ("market",), why="scope")
    add("eve", "investigator", "events.search", "refused", why="no reason given")
    add("ann", "investigator", "hold.request", cameras=("gate",), hold=1)
    add("sue", "supervisor", "hold.approve", cameras=("gate",), hold=1)
    add("vigil", "system", "hold.expire", cameras=("gate",), hold=1)
    add(
        "ann",
        "investigator",
        "export.request",
        cameras=("gate",),
        export=7,
        camera="gate",
        case="C-1",
        redacted=False,
    )
    add("sue", "supervisor", "export.approve", cameras=("gate",), export=7, camera="gate")
    add("vigil", "system", "export.complete", cameras=("gate",), export=7, camera="gate")
    add(
        "ann",
        "investigator",
        "export.download",
        cameras=("gate",),
        reason="C-1: court",
        case="C-1",
        export=7,
    )
    add(
        "vigil",
        "system",
        "retention.erase",
        cameras=("gate",),
        since=now - 41 * DAY_US,
        until=now - 40 * DAY_US,
        segments=10,
        bytes=1000,
        rules=["age"],
    )
    add(
        "vigil",
        "system",
        "retention.erase",
        cameras=("gate",),
        since=now - 3 * DAY_US,
        until=now - 2 * DAY_US,
        segments=4,
        bytes=400,
        rules=["space"],
    )
    log.checkpoint()


def test_the_counts_are_those_of_the_trail(console: Console) -> None:
    _seed(console)
    context: Any = console.context
    since, until = now_us() - DAY_US, now_us() + 1
    report = transparency(
        context.config, context.engine, since, until, [context.audit_log.public_key]
    )
    records = read_records(context.engine, since, until, limit=100_000)
    # Counted directly from the trail.
    accesses = Counter(
        (ACCESSES[r.action], r.role, camera)
        for r in records
        if r.action in ACCESSES and r.outcome == "ok"
        for camera in (r.cameras or ["(all in scope)"])
    )
    assert {(a["kind"], a["role"], a["camera"]): a["count"] for a in report["accesses"]} == accesses
    assert accesses[("playback", "investigator", "gate")] == 4
    refusals = Counter((r.action, r.outcome) for r in records if r.outcome in ("denied", "refused"))
    assert (
        Counter({(x["action"], x["outcome"]): x["count"] for x in report["refusals"]}) == refusals
    )
    assert report["reasons_by_case"]["C-1"] == [
        {"reason": "court", "count": 1},
        {"reason": "the fire", "count": 3},
        {"reason": "the smoke", "count": 1},
    ]
    assert report["reasons_by_case"]["C-2"] == [{"reason": "a bag left", "count": 2}]
    assert report["holds"] == {
        "requested": 1,
        "placed": 1,
        "refused": 0,
        "released": 0,
        "expired": 1,
    }
    assert report["exports"] == [
        {
            "export": 7,
            "camera": "gate",
            "case": "C-1",
            "redacted": False,
            "requested_by": "ann",
            "approved_by": "sue",
            "state": "complete",
            "taken": 1,
        }
    ]
    (gate,) = report["erasures"]
    assert (
        gate["camera"],
        gate["declared_retention_days"],
        gate["passes"],
        gate["segments"],
        gate["bytes"],
        gate["rules"],
    ) == ("gate", 30.0, 2, 14, 1400, ["age", "space"])
    assert [e["rules"] for e in gate["early"]] == [["space"]], "only the early erasure is flagged"
    assert report["audit_verifies"]["ok"] and report["audit_verifies"]["signatures_checked"]
    assert report["checkpoints"], "the period's checkpoints are listed"
    days = report["accesses_per_day"]
    assert sum(days["gate"].values()) == sum(n for (_, _, c), n in accesses.items() if c == "gate")


def test_the_report_is_offered_to_auditors_as_html_json_and_pdf(console: Console) -> None:
    _seed(console)
    console.client.cookies.clear()
    auditor = {"Authorization": f"Bearer {console.tokens['auditor']}"}
    page = console.client.get("/api/v1/audit/report", headers=auditor)
    assert (
        page.status_code == 200 and "<svg" in page.text and "The audit trail verifies" in page.text
    )
    assert "erased before the declared retention" in page.text
    as_json = console.client.get("/api/v1/audit/report?format=json", headers=auditor).json()
    assert as_json["made_from"] == "the audit trail and the camera register only"
    investigator = {"Authorization": f"Bearer {console.tokens['investigator']}"}
    assert console.client.get("/api/v1/audit/report", headers=investigator).status_code == 403
    config = str(console.directory / "vigil.yaml")
    out = console.directory / "report.pdf"
    done = CliRunner().invoke(
        app,
        [
            "report",
            "transparency",
            "-c",
            config,
            "--format",
            "pdf",
            "--out",
            str(out),
            "--since",
            to_iso(now_us() - DAY_US),
        ],
    )
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF")
    printed = CliRunner().invoke(app, ["report", "transparency", "-c", config, "--format", "json"])
    assert json.loads(printed.output)["exports"][0]["approved_by"] == "sue"
