"""The REST API's access control, evidence reasons, sessions and audit, on a real database with
real footage. The allow/deny expectations come from the one table in vigil.api.access."""

from __future__ import annotations

import re
import sys
from typing import Any

import av
from sqlalchemy import select, text

from support.console import PASSWORD, REASON, ROLES, Console
from vigil.accounts.roles import Role
from vigil.accounts.throttle import RefusalThrottle
from vigil.api.access import ACCESS, permitted
from vigil.api.app import api_routes
from vigil.audit import AuditRecord, read_records
from vigil.config import RoleSettings
from vigil.export.package import PackageBuilder
from vigil.storage.evidence import CaseStore, HoldStore
from vigil.storage.exports import ExportStore
from vigil.storage.lifts import LiftStore
from vigil.storage.schema import audit_records
from vigil.timeutil import to_iso

pytest_plugins = ["support.console"]


def _call(
    console: Console,
    method: str,
    path: str,
    role: str | None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
):  # type: ignore[no-untyped-def]
    console.client.cookies.clear()  # only the bearer token (or nothing) speaks for the caller
    return console.client.request(
        method, path, headers={**console.as_role(role), **(headers or {})}, **kwargs
    )


def _audit(console: Console) -> list[Any]:
    return read_records(console.context.engine, limit=10_000)  # type: ignore[attr-defined]


def _playlist(console: Console):  # type: ignore[no-untyped-def]
    """An investigator's HLS playlist of everything the fixture recorded."""
    return _call(
        console,
        "GET",
        "/api/v1/playback/gate/playlist.m3u8",
        "investigator",
        REASON,
        params=_range(console),
    )


def _requests(console: Console) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """A concrete, valid request for every route in the access table."""
    playlist = _playlist(console)
    assert playlist.status_code == 200, playlist.text
    segment_url = next(line for line in playlist.text.splitlines() if ".ts?" in line)
    event = console.event_id
    accounts = console.context.accounts  # type: ignore[attr-defined]
    accounts.add("spare", PASSWORD, ["viewer"])
    engine = console.context.engine  # type: ignore[attr-defined]
    case = REASON["X-Vigil-Case"]
    CaseStore(engine).open(case, "the gate", "", "someone", _unaudited)
    held = HoldStore(engine)
    since, until = console.start_us, console.start_us + 2 * 10**6
    pending = held.request(
        case, "gate", since, until, "kept for the matrix", until + 10**13, "someone", _unaudited
    )
    active = held.request(
        case, "gate", since, until, "kept for the matrix", until + 10**13, "someone", _unaudited
    )
    held.approve(active.id, "another", _unaudited)
    releasing = held.request(
        case, "gate", since, until, "kept for the matrix", until + 10**13, "someone", _unaudited
    )
    held.approve(releasing.id, "another", _unaudited)
    held.request_release(releasing.id, "no longer needed", "someone", _unaudited)
    hold_body = {
        "case": case,
        "camera": "gate",
        "since": to_iso(since),
        "until": to_iso(until),
        "reason": "the night of the fire",
    }
    exported = _exports(console, case, since, until)
    lift = _masked(console, case, since, until)
    grant = _call(
        console, "GET", f"/api/v1/exports/{exported['complete']}/open", "investigator", REASON
    ).json()["video"]
    return {
        ("GET", "/healthz"): ("/healthz", {}),
        ("GET", "/"): ("/", {}),
        ("GET", "/register"): ("/register", {}),
        ("POST", "/api/v1/auth/login"): (
            "/api/v1/auth/login",
            {"json": {"name": "viewer1", "password": PASSWORD}},
        ),
        ("POST", "/api/v1/auth/logout"): ("/api/v1/auth/logout", {}),
        ("GET", "/api/v1/auth/me"): ("/api/v1/auth/me", {}),
        ("POST", "/api/v1/auth/password"): (
            "/api/v1/auth/password",
            {"json": {"current": PASSWORD, "new": PASSWORD}},
        ),
        ("GET", "/metrics"): ("/metrics", {}),
        ("GET", "/api/v1/cameras"): ("/api/v1/cameras", {}),
        ("GET", "/api/v1/cameras/{name}"): ("/api/v1/cameras/gate", {}),
        # The market camera has recorded nothing, so an allowed live view ends at once (404).
        ("GET", "/api/v1/cameras/{name}/live.mp4"): ("/api/v1/cameras/market/live.mp4", {}),
        ("GET", "/api/v1/recordings/{camera}"): ("/api/v1/recordings/gate", {}),
        ("GET", "/api/v1/playback/{camera}/playlist.m3u8"): (
            "/api/v1/playback/gate/playlist.m3u8",
            {"params": _range(console)},
        ),
        ("GET", "/api/v1/playback/{camera}/video.mp4"): (
            "/api/v1/playback/gate/video.mp4",
            {"params": _range(console)},
        ),
        ("GET", "/api/v1/playback/{camera}/segments/{segment_id}.ts"): (
            f"/api/v1/playback/gate/{segment_url}",
            {},
        ),
        ("GET", "/api/v1/events"): ("/api/v1/events", {}),
        ("GET", "/api/v1/events/{event_id}"): (f"/api/v1/events/{event}", {}),
        ("GET", "/api/v1/events/{event_id}/snapshot.jpg"): (
            f"/api/v1/events/{event}/snapshot.jpg",
            {},
        ),
        ("POST", "/api/v1/events/{event_id}/review"): (
            f"/api/v1/events/{event}/review",
            {"json": {"verdict": "acknowledged", "note": "ok"}},
        ),
        ("GET", "/api/v1/cases"): ("/api/v1/cases", {}),
        ("POST", "/api/v1/cases"): (
            "/api/v1/cases",
            {"json": {"reference": "CASE-2026/99", "title": "a new case"}},
        ),
        ("GET", "/api/v1/cases/{reference:path}"): (f"/api/v1/cases/{case}", {}),
        ("POST", "/api/v1/cases/{reference:path}/close"): ("/api/v1/cases/CASE-2026/99/close", {}),
        ("GET", "/api/v1/holds"): ("/api/v1/holds", {}),
        ("POST", "/api/v1/holds"): ("/api/v1/holds", {"json": hold_body}),
        ("POST", "/api/v1/holds/{hold_id}/approve"): (f"/api/v1/holds/{pending.id}/approve", {}),
        ("POST", "/api/v1/holds/{hold_id}/refuse"): (f"/api/v1/holds/{pending.id}/refuse", {}),
        ("POST", "/api/v1/holds/{hold_id}/release"): (
            f"/api/v1/holds/{active.id}/release",
            {"json": {"reason": "no longer needed"}},
        ),
        ("POST", "/api/v1/holds/{hold_id}/release/approve"): (
            f"/api/v1/holds/{releasing.id}/release/approve",
            {},
        ),
        ("GET", "/api/v1/exports"): ("/api/v1/exports", {}),
        ("POST", "/api/v1/exports"): ("/api/v1/exports", {"json": hold_body}),
        ("GET", "/api/v1/exports/{export_id}"): (f"/api/v1/exports/{exported['complete']}", {}),
        ("POST", "/api/v1/exports/{export_id}/approve"): (
            f"/api/v1/exports/{exported['approve']}/approve",
            {},
        ),
        ("POST", "/api/v1/exports/{export_id}/refuse"): (
            f"/api/v1/exports/{exported['refuse']}/refuse",
            {},
        ),
        ("POST", "/api/v1/exports/{export_id}/cancel"): (
            f"/api/v1/exports/{exported['cancel']}/cancel",
            {},
        ),
        ("GET", "/api/v1/exports/{export_id}/package.zip"): (
            f"/api/v1/exports/{exported['complete']}/package.zip",
            {},
        ),
        ("GET", "/api/v1/exports/{export_id}/open"): (
            f"/api/v1/exports/{exported['complete']}/open",
            {},
        ),
        ("GET", "/api/v1/exports/{export_id}/files/{name}"): (grant, {}),
        ("GET", "/api/v1/lifts"): ("/api/v1/lifts", {}),
        ("POST", "/api/v1/lifts"): ("/api/v1/lifts", {"json": hold_body}),
        ("POST", "/api/v1/lifts/{lift_id}/approve"): (f"/api/v1/lifts/{lift}/approve", {}),
        # A site is not a hub: allowed callers are answered 404, the others 401 or 403.
        ("GET", "/api/v1/federation/sites"): ("/api/v1/federation/sites", {}),
        ("GET", "/api/v1/federation/events"): ("/api/v1/federation/events", {}),
        ("GET", "/api/v1/federation/sites/{site}/cameras/{camera}/timeline"): (
            "/api/v1/federation/sites/north/cameras/gate/timeline",
            {},
        ),
        ("GET", "/api/v1/federation/retrievals"): ("/api/v1/federation/retrievals", {}),
        ("POST", "/api/v1/federation/retrievals"): (
            "/api/v1/federation/retrievals",
            {"json": {**hold_body, "site": "north"}},
        ),
        ("GET", "/api/v1/storage"): ("/api/v1/storage", {}),
        ("GET", "/api/v1/config"): ("/api/v1/config", {}),
        ("GET", "/api/v1/users"): ("/api/v1/users", {}),
        ("POST", "/api/v1/users"): ("/api/v1/users", {"json": {"name": "x", "roles": ["viewer"]}}),
        ("POST", "/api/v1/users/{user}/disable"): ("/api/v1/users/spare/disable", {}),
        ("GET", "/api/v1/audit"): ("/api/v1/audit", {}),
        ("GET", "/api/v1/audit/verify"): ("/api/v1/audit/verify", {}),
        ("GET", "/api/v1/audit/report"): ("/api/v1/audit/report", {}),
        ("GET", "/api/v1/audit/checkpoints"): ("/api/v1/audit/checkpoints", {}),
    }


def _unaudited(*_: object) -> None:
    """The matrix's fixtures are set up behind the API, where nothing is audited."""


def _exports(console: Console, case: str, since: int, until: int) -> dict[str, int]:
    """Export jobs in each state a route acts on; `complete` has its package (unredacted, so
    no detector is needed), whose audit records are real ones for the proofs."""
    context: Any = console.context
    store = ExportStore(context.engine)

    def audit(connection: Any, action: str, detail: Any) -> int:
        record = AuditRecord(
            "someone", "investigator", action, "ok", "test", ["gate"], detail=detail
        )
        return context.audit_log.append(record, connection).seq

    def unredacted() -> int:
        return store.request(
            case, "gate", since, until, False, "for the matrix", "someone", audit
        ).id

    jobs = {"approve": unredacted(), "refuse": unredacted(), "complete": unredacted()}
    store.approve(jobs["complete"], "another", audit)
    builder = PackageBuilder(context.config, context.audit_log, _no_redactor)
    job = store.next_job()
    assert job is not None and job.id == jobs["complete"]
    assert builder.build(job) is not None
    jobs["cancel"] = store.request(
        case, "gate", since, until, True, "for the matrix", "someone", audit
    ).id
    return jobs


def _masked(console: Console, case: str, since: int, until: int) -> int:
    """Masks on the gate, investigators allowed to lift them, and a lift waiting for approval."""
    context: Any = console.context
    gate = context.config.cameras["gate"].model_copy(
        update={"privacy_masks": [((0.0, 0.0), (0.5, 0.0), (0.5, 0.5))]}
    )
    context.config = context.config.model_copy(
        update={
            "cameras": {**context.config.cameras, "gate": gate},
            "roles": {"investigator": RoleSettings(mask_lift=True)},
        }
    )
    lift = LiftStore(context.engine).request(
        case, "gate", (since, until), "for the matrix", "someone", True, 30, _unaudited
    )
    return lift.id


def _no_redactor() -> Any:
    raise AssertionError("an unredacted export needs no redactor")


def _range(console: Console) -> dict[str, str]:
    return {"since": to_iso(console.start_us - 10**6), "until": to_iso(console.end_us + 10**6)}


def test_every_route_has_exactly_one_access_rule(console: Console) -> None:
    app = console.client.app  # type: ignore[attr-defined]
    routes = {(m, r.path) for r in api_routes(app.routes) for m in r.methods}
    assert routes == set(ACCESS)


def test_role_matrix_matches_the_access_table(console: Console) -> None:
    # The sweep is refused by design hundreds of times; the throttle has its own tests.
    console.context.refusals = RefusalThrottle(limit=sys.maxsize)  # type: ignore[attr-defined]
    requests = _requests(console)
    assert set(requests) == set(ACCESS)
    wrong = []
    for (method, route), (path, kwargs) in requests.items():
        rule = ACCESS[(method, route)]
        for role in (None, *ROLES):
            kw = dict(kwargs)
            if method == "POST" and route == "/api/v1/users":
                kw["json"] = {"name": f"new-{role}", "roles": ["viewer"]}
            response = _call(console, method, path, role, REASON, **kw)
            allowed = rule.public or (role is not None and permitted(rule, frozenset({Role(role)})))
            denied = response.status_code in (401, 403)
            if allowed == denied or response.status_code >= 500:
                wrong.append(f"{method} {path} as {role}: {response.status_code}")
            if not allowed and role is None and not rule.public:
                assert response.status_code == 401, f"{method} {path}"
    assert not wrong, "\n".join(wrong)


def test_admin_gets_no_video_and_auditor_only_the_audit(console: Console) -> None:
    for role in ("admin", "auditor"):
        for path in (
            "/api/v1/playback/gate/video.mp4",
            "/api/v1/events",
            f"/api/v1/events/{console.event_id}/snapshot.jpg",
        ):
            assert _call(console, "GET", path, role, REASON).status_code == 403
    assert _call(console, "GET", "/api/v1/cameras", "auditor").status_code == 403
    assert _call(console, "GET", "/api/v1/audit", "auditor").status_code == 200


def test_evidence_needs_a_case_and_reason_and_refusals_are_audited(console: Console) -> None:
    paths = [
        "/api/v1/events",
        "/api/v1/recordings/gate",
        "/api/v1/playback/gate/video.mp4",
        f"/api/v1/events/{console.event_id}/snapshot.jpg",
    ]
    for path in paths:
        assert _call(console, "GET", path, "investigator").status_code == 400
        short = {"X-Vigil-Case": "C1", "X-Vigil-Reason": "hm"}
        assert _call(console, "GET", path, "investigator", short).status_code == 400
    refused = [r for r in _audit(console) if r.outcome == "refused"]
    assert len(refused) == 2 * len(paths)
    # The query-parameter form, for <video src> and <img src>.
    params = {"case": "CASE-1", "reason": "door forced at 02:00"}
    snap = f"/api/v1/events/{console.event_id}/snapshot.jpg"
    response = _call(console, "GET", snap, "investigator", params=params)
    assert response.status_code == 200
    assert response.content[:2] == b"\xff\xd8"


def test_playback_is_audited_with_who_what_when_and_why(console: Console) -> None:
    response = _call(
        console,
        "GET",
        "/api/v1/playback/gate/video.mp4",
        "investigator",
        REASON,
        params=_range(console),
    )
    assert response.status_code == 200
    assert response.content[4:8] == b"ftyp"
    record = next(r for r in reversed(_audit(console)) if r.action == "playback")
    assert (record.actor, record.role, record.outcome) == ("investigator1", "investigator", "ok")
    assert record.cameras == ["gate"]
    assert record.reason == f"{REASON['X-Vigil-Case']}: {REASON['X-Vigil-Reason']}"
    assert record.since_us < console.start_us < console.end_us < record.until_us
    assert record.source


def test_hls_playlist_plays_every_stored_frame(console: Console, tmp_path) -> None:  # type: ignore[no-untyped-def]
    playlist = _playlist(console)
    assert playlist.status_code == 200
    urls = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    assert len(urls) == len(console.segment_ids)
    frames = 0
    for number, url in enumerate(urls):
        segment = _call(console, "GET", f"/api/v1/playback/gate/{url}", "investigator")
        assert segment.status_code == 200
        path = tmp_path / f"{number}.ts"
        path.write_bytes(segment.content)
        with av.open(str(path)) as container:
            frames += sum(1 for _ in container.decode(video=0))
    assert frames >= 3 * 2 * 15 * 0.9
    # The grant belongs to the account that asked for the playlist, for that camera only.
    other = console.context.accounts.add("inv2", PASSWORD, ["investigator"])  # type: ignore[attr-defined]
    token = console.context.tokens.issue(other.id, "t")  # type: ignore[attr-defined]
    response = console.client.get(
        f"/api/v1/playback/gate/{urls[0]}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    forged = re.sub(r"grant=[^&]+", "grant=1.9999999999.00", urls[0])
    assert (
        _call(console, "GET", f"/api/v1/playback/gate/{forged}", "investigator").status_code == 403
    )


def test_scope_limits_cameras_events_and_footage(console: Console) -> None:
    accounts = console.context.accounts  # type: ignore[attr-defined]
    north = accounts.add("north-inv", PASSWORD, ["investigator"], sites=["north"])
    south = accounts.add("south-inv", PASSWORD, ["investigator"], cameras=["market"])
    for user, sees_gate in ((north, True), (south, False)):
        headers = {
            "Authorization": f"Bearer {console.context.tokens.issue(user.id, 't')}",  # type: ignore[attr-defined]
            **REASON,
        }
        names = [
            c["name"]
            for c in console.client.get("/api/v1/cameras", headers=headers).json()["cameras"]
        ]
        assert names == (["gate"] if sees_gate else ["market"])
        found = console.client.get("/api/v1/events", headers=headers).json()["events"]
        assert [e["id"] for e in found] == ([console.event_id] if sees_gate else [])
        expected = 200 if sees_gate else 404
        for path in (
            "/api/v1/cameras/gate",
            f"/api/v1/events/{console.event_id}/snapshot.jpg",
            "/api/v1/recordings/gate",
        ):
            assert console.client.get(path, headers=headers).status_code == expected, path


def _login(console: Console, name: str) -> dict[str, Any]:
    response = console.client.post("/api/v1/auth/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_session_cookie_is_httponly_strict_and_needs_csrf(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.post(
        "/api/v1/auth/login", json={"name": "investigator1", "password": PASSWORD}
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    csrf = response.json()["csrf_token"]
    review = f"/api/v1/events/{console.event_id}/review"
    body = {"verdict": "false_alarm", "note": "a cat"}
    assert console.client.post(review, json=body).status_code == 403
    assert (
        console.client.post(review, json=body, headers={"X-CSRF-Token": "x" * 43}).status_code
        == 403
    )
    done = console.client.post(review, json=body, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    assert done.json()["review"]["verdict"] == "false_alarm"
    assert any(
        r.action == "event.review" and r.detail["verdict"] == "false_alarm" for r in _audit(console)
    )


def _signed_in_with(console: Console, name: str, cookie: str) -> str:
    """Sign in while the browser presents `cookie`; the session id the server sets."""
    console.client.cookies.clear()
    response = console.client.post(
        "/api/v1/auth/login",
        json={"name": name, "password": PASSWORD},
        headers={"Cookie": f"vigil_session={cookie}"},
    )
    assert response.status_code == 200
    match = re.search(r"vigil_session=([^;]+)", response.headers["set-cookie"])
    assert match is not None
    console.client.cookies.clear()
    return match.group(1)


def _me(console: Console, session: str) -> int:
    console.client.cookies.clear()
    return console.client.get(
        "/api/v1/auth/me", headers={"Cookie": f"vigil_session={session}"}
    ).status_code


def test_login_never_keeps_a_session_id_it_was_given(console: Console) -> None:
    planted = _signed_in_with(console, "viewer1", "attacker-chosen-id")
    assert planted != "attacker-chosen-id"
    assert _me(console, "attacker-chosen-id") == 401
    # Signing in again (as someone else) on the same browser replaces and ends that session.
    fresh = _signed_in_with(console, "investigator1", planted)
    assert fresh != planted
    assert _me(console, planted) == 401
    assert _me(console, fresh) == 200


def test_failed_logins_are_throttled_and_audited(console: Console) -> None:
    for _ in range(5):
        bad = console.client.post("/api/v1/auth/login", json={"name": "viewer1", "password": "no"})
        assert bad.status_code == 401
    locked = console.client.post(
        "/api/v1/auth/login", json={"name": "viewer1", "password": PASSWORD}
    )
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    outcomes = [r.outcome for r in _audit(console) if r.action == "login"]
    assert outcomes.count("failed") == 5 and outcomes[-1] == "throttled"
    # Another account from the same address is not locked by one account's failures.
    assert (
        console.client.post(
            "/api/v1/auth/login", json={"name": "investigator1", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_one_time_password_must_be_changed_first(console: Console) -> None:
    accounts = console.context.accounts  # type: ignore[attr-defined]
    accounts.add("newcomer", "temporary-password-1", ["viewer"], must_change=True)
    console.client.cookies.clear()
    login = console.client.post(
        "/api/v1/auth/login", json={"name": "newcomer", "password": "temporary-password-1"}
    )
    assert login.json()["must_change_password"] is True
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert console.client.get("/api/v1/cameras").status_code == 403
    changed = console.client.post(
        "/api/v1/auth/password",
        headers=csrf,
        json={"current": "temporary-password-1", "new": "a much better passphrase"},
    )
    assert changed.status_code == 200, changed.text
    assert console.client.get("/api/v1/cameras").status_code == 200


def test_refuses_footage_when_the_audit_trail_cannot_be_written(console: Console) -> None:
    engine = console.context.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER audit_storage_gone BEFORE INSERT ON audit_records "
                "BEGIN SELECT RAISE(ABORT, 'audit storage is unwritable'); END"
            )
        )
    before = _count(console)
    for path, kwargs in (
        ("/api/v1/playback/gate/video.mp4", {"params": _range(console)}),
        (f"/api/v1/events/{console.event_id}/snapshot.jpg", {}),
        ("/api/v1/playback/gate/playlist.m3u8", {"params": _range(console)}),
        ("/api/v1/events", {}),
    ):
        response = _call(console, "GET", path, "investigator", REASON, **kwargs)
        assert response.status_code == 503, path
        assert b"ftyp" not in response.content and not response.content.startswith(b"\xff\xd8")
        assert "audit" in response.json()["detail"]
    assert _count(console) == before


def _count(console: Console) -> int:
    with console.context.engine.connect() as connection:  # type: ignore[attr-defined]
        return len(connection.execute(select(audit_records.c.seq)).all())


def test_metrics_show_cameras_and_processes(console: Console) -> None:
    body = _call(console, "GET", "/metrics", "admin").text
    assert 'vigil_camera_state{camera="gate",state="stopped"} 1.0' in body
    assert 'vigil_camera_recorded_segments{camera="gate"} 3.0' in body
    assert re.search(r'vigil_process_resident_bytes\{process="api",pid="\d+"\} [1-9]', body)
