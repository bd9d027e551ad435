"""Cases and holds through the API, on real footage: two people place a hold and two release
it, never one account alone; held footage outlives a full disk, the alarm names the case, and
a hold ends by itself at its expiry. Every step is in the audit trail."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from support.console import PASSWORD, REASON, Console
from vigil.audit import read_records
from vigil.case_cli import case_app
from vigil.config import VigilConfig
from vigil.storage.evidence import HoldStore
from vigil.storage.index import SegmentIndex
from vigil.storage.retention import STORAGE_ALARM, Janitor
from vigil.storage.status import StatusStore
from vigil.timeutil import US, now_us, to_iso

pytest_plugins = ["support.console"]
CASE = REASON["X-Vigil-Case"]


def _as(console: Console, token: str, method: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    console.client.cookies.clear()
    return console.client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                  **kwargs)  # fmt: skip


def _account(console: Console, name: str, roles: list[str]) -> str:
    context: Any = console.context
    user = context.accounts.add(name, PASSWORD, roles)
    return str(context.tokens.issue(user.id, "tests"))


def _actions(console: Console) -> list[tuple[str, str, str]]:
    context: Any = console.context
    return [(r.actor, r.action, r.outcome) for r in read_records(context.engine, limit=10_000)]


def test_two_people_place_and_release_a_hold_and_retention_keeps_it(console: Console) -> None:
    investigator, supervisor = console.tokens["investigator"], console.tokens["supervisor"]
    both = _account(console, "both1", ["investigator", "supervisor"])
    supervisor2 = _account(console, "supervisor2", ["supervisor"])
    context: Any = console.context
    index = SegmentIndex(context.engine)
    first, *rest = index.find("gate")

    opened = _as(console, investigator, "POST", "/api/v1/cases",
                 json={"reference": CASE, "title": "fire at the gate"})  # fmt: skip
    assert opened.status_code == 201, opened.text
    assert opened.json()["opened_by"] == "investigator1" and opened.json()["state"] == "open"
    again = _as(console, investigator, "POST", "/api/v1/cases",
                json={"reference": CASE, "title": "again"})  # fmt: skip
    assert again.status_code == 409 and "exists already" in again.json()["detail"]

    body = {"case": CASE, "camera": "gate", "since": to_iso(first.start_us),
            "until": to_iso(first.end_us), "reason": "the first minutes of the fire"}  # fmt: skip
    asked = _as(console, investigator, "POST", "/api/v1/holds", json=body)
    assert asked.status_code == 201, asked.text
    hold = asked.json()
    assert hold["state"] == "requested" and hold["requested_by"] == "investigator1"
    expiry_days = (to_us(hold["expires"]) - now_us()) / (86_400 * US)
    assert 89.9 < expiry_days <= 90  # the default, evidence.hold_days
    assert not any(s.hold for s in index.find("gate")), "held before anyone approved"

    # An investigator is not a supervisor; nor may an account approve its own request.
    assert (
        _as(console, investigator, "POST", f"/api/v1/holds/{hold['id']}/approve").status_code == 403
    )
    own = _as(console, both, "POST", "/api/v1/holds", json=body).json()
    refused = _as(console, both, "POST", f"/api/v1/holds/{own['id']}/approve")
    assert refused.status_code == 403 and "two-person rule" in refused.json()["detail"]
    assert ("both1", "hold.approve", "denied") in _actions(console)

    approved = _as(console, supervisor, "POST", f"/api/v1/holds/{hold['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "active" and approved.json()["approved_by"] == "supervisor1"
    assert approved.json()["held_bytes"] == first.bytes
    assert [s.id for s in index.find("gate") if s.hold] == [first.id]
    twice = _as(console, supervisor2, "POST", f"/api/v1/holds/{hold['id']}/approve")
    assert twice.status_code == 409
    # The timeline shows the held span; the storage page the bytes held and for which case.
    console.client.cookies.clear()
    timeline = console.client.get(
        "/api/v1/recordings/gate",
        headers={"Authorization": f"Bearer {investigator}", **REASON},
        params={"since": to_iso(first.start_us - US), "until": to_iso(rest[-1].end_us + US)},
    ).json()
    assert timeline["held"] == [{"start": to_iso(first.start_us), "end": to_iso(first.end_us)}]
    storage = _as(console, console.tokens["admin"], "GET", "/api/v1/storage").json()
    assert (storage["held_bytes"], storage["held_by"]) == (first.bytes, [CASE])

    # A full disk: everything else goes, the held segment stays, and the alarm names the case.
    status = StatusStore(context.engine)
    full = VigilConfig.model_validate(
        {"storage": {"path": str(context.config.storage.path), "min_free": "99%"}}
    )
    janitor = Janitor(full, index, status, free_space=lambda: (0, 10**12),
                      expire_events=lambda *_: 0)  # fmt: skip
    janitor.run_once()
    assert [s.id for s in index.find("gate")] == [first.id]
    assert context.layout.absolute(first.path).exists()
    assert not any(context.layout.absolute(s.path).exists() for s in rest)
    (alarm,) = [a for a in status.alarms() if a.kind == STORAGE_ALARM]
    assert f"by the holds of case(s) {CASE}" in alarm.message

    listed = _as(console, console.tokens["viewer"], "GET", "/api/v1/holds")
    assert listed.status_code == 403
    shown = _as(console, supervisor, "GET", f"/api/v1/cases/{CASE}")
    assert shown.status_code == 200
    assert {h["id"]: h["state"] for h in shown.json()["holds"]} == {
        hold["id"]: "active", own["id"]: "requested",
    }  # fmt: skip

    # Release: asked by one, approved by another, never the one who asked.
    why = {"reason": "the case went to court with a copy"}
    released = _as(console, supervisor, "POST", f"/api/v1/holds/{hold['id']}/release", json=why)
    assert released.status_code == 200 and released.json()["state"] == "release_requested"
    assert index.find("gate")[0].hold, "a release takes effect only once approved"
    self_release = _as(console, supervisor, "POST", f"/api/v1/holds/{hold['id']}/release/approve")
    assert self_release.status_code == 403
    done = _as(console, supervisor2, "POST", f"/api/v1/holds/{hold['id']}/release/approve")
    assert done.status_code == 200 and done.json()["state"] == "released"
    assert not index.find("gate")[0].hold
    janitor.run_once()
    assert index.find("gate") == []

    trail = _actions(console)
    for step in [("investigator1", "case.open", "ok"), ("investigator1", "hold.request", "ok"),
                 ("supervisor1", "hold.approve", "ok"),
                 ("supervisor1", "hold.release_request", "ok"),
                 ("supervisor1", "hold.release", "denied"),
                 ("supervisor2", "hold.release", "ok")]:  # fmt: skip
        assert step in trail, step


def test_a_hold_expires_by_itself_and_a_closed_case_takes_no_new_hold(console: Console) -> None:
    investigator, supervisor = console.tokens["investigator"], console.tokens["supervisor"]
    context: Any = console.context
    index = SegmentIndex(context.engine)
    first, second, _ = index.find("gate")
    _as(console, investigator, "POST", "/api/v1/cases", json={"reference": CASE, "title": "t"})
    body = {"case": CASE, "camera": "gate", "since": to_iso(first.start_us),
            "until": to_iso(second.end_us), "reason": "kept for a week", "days": 7}  # fmt: skip
    too_long = _as(console, investigator, "POST", "/api/v1/holds", json={**body, "days": 400})
    assert too_long.status_code == 422 and "max_hold_days" in too_long.json()["detail"]
    future = {**body, "until": to_iso(now_us() + 3600 * US)}
    assert _as(console, investigator, "POST", "/api/v1/holds", json=future).status_code == 422
    wide = _as(console, investigator, "POST", "/api/v1/holds", json=body).json()
    narrow = _as(console, investigator, "POST", "/api/v1/holds",
                 json={**body, "until": to_iso(first.end_us), "days": 30}).json()  # fmt: skip
    for hold in (wide, narrow):
        assert (
            _as(console, supervisor, "POST", f"/api/v1/holds/{hold['id']}/approve").status_code
            == 200
        )
    assert [s.hold for s in index.find("gate")] == [True, True, False]

    def audit_expiry(connection: Any, action: str, detail: Any) -> None:
        from vigil.audit import AuditRecord

        record = AuditRecord("vigil", "system", action, "ok", "vigil", [detail["camera"]],
                             detail=detail)  # fmt: skip
        context.audit_log.append(record, connection)

    ended = HoldStore(context.engine).expire(audit_expiry, now_us() + 8 * 86_400 * US)
    assert [h.id for h in ended] == [wide["id"]]
    # The narrow hold, still in force, keeps the first segment; the second is free again.
    assert [s.hold for s in index.find("gate")] == [True, False, False]
    assert ("vigil", "hold.expire", "ok") in _actions(console)

    shown = CliRunner().invoke(case_app, ["show", CASE, "-c", str(console.directory / "vigil.yaml"),
                                          "--json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    states = {h["id"]: h["state"] for h in json.loads(shown.stdout)["holds"]}
    assert states == {wide["id"]: "expired", narrow["id"]: "active"}
    listed = CliRunner().invoke(case_app, ["list", "-c", str(console.directory / "vigil.yaml")])
    assert listed.exit_code == 0 and CASE in listed.stdout
    missing = CliRunner().invoke(
        case_app, ["show", "NONE", "-c", str(console.directory / "vigil.yaml")]
    )
    assert missing.exit_code == 1 and "not found" in missing.output

    closed = _as(console, investigator, "POST", f"/api/v1/cases/{CASE}/close")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    late = _as(console, investigator, "POST", "/api/v1/holds", json=body)
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    unknown = _as(console, investigator, "POST", "/api/v1/holds", json={**body, "case": "NO-SUCH"})
    assert unknown.status_code == 404


def to_us(iso: str) -> int:
    from vigil.timeutil import parse_iso

    return parse_iso(iso)


KILLED_APPROVER = """
import os, signal, sys
from pathlib import Path
from vigil.audit import open_audit_log, AuditRecord
from vigil.config import load_config
from vigil.storage import evidence
from vigil.storage.database import connect

config = load_config(Path(sys.argv[1]))
engine = connect(config.database_url())
log = open_audit_log(config, engine)
flag = evidence._flag

def flag_then_die(connection, hold):
    flag(connection, hold)
    os.kill(os.getpid(), signal.SIGKILL)  # a power cut with the flags written, not committed

evidence._flag = flag_then_die
def audit(connection, action, detail):
    log.append(AuditRecord("supervisor1", "supervisor", action, "ok", "test", [], detail=detail),
               connection)
evidence.HoldStore(engine).approve(int(sys.argv[2]), "supervisor1", audit)
"""


def test_a_power_cut_during_approval_leaves_the_hold_unapproved(console: Console) -> None:
    """The approval, the segments' flags and the audit record commit together or not at all."""
    import signal
    import subprocess
    import sys

    context: Any = console.context
    investigator = console.tokens["investigator"]
    _as(console, investigator, "POST", "/api/v1/cases", json={"reference": CASE, "title": "t"})
    first = SegmentIndex(context.engine).find("gate")[0]
    body = {"case": CASE, "camera": "gate", "since": to_iso(first.start_us),
            "until": to_iso(first.end_us), "reason": "kept across a power cut"}  # fmt: skip
    hold = _as(console, investigator, "POST", "/api/v1/holds", json=body).json()
    before = len(_actions(console))
    config = console.directory / "vigil.yaml"
    done = subprocess.run([sys.executable, "-c", KILLED_APPROVER, str(config), str(hold["id"])],
                          capture_output=True, timeout=120)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    after = HoldStore(context.engine).get(hold["id"])
    assert after is not None and after.state == "requested" and after.approved_by is None
    assert not any(s.hold for s in SegmentIndex(context.engine).find("gate"))
    assert len(_actions(console)) == before, "no record of an approval that did not happen"
    # And the approval can still be made.
    approved = _as(console, console.tokens["supervisor"], "POST",
                   f"/api/v1/holds/{hold['id']}/approve")  # fmt: skip
    assert approved.status_code == 200 and approved.json()["state"] == "active"
