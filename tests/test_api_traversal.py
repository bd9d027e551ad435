"""Path traversal against every route that takes a name or a path, as a role that may otherwise
use the route: the answer is a refusal (400, 403, 404 or 422) holding no file's content, never
a success and never a server error. Stored paths are attacked too: a segment or snapshot row
whose path leads outside its storage directory is never served.

Requests go to the app as uvicorn hands them over (percent-decoded, '..' left in place): an
HTTP client would remove the dot segments before they ever reached the server."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import anyio
import pytest
from sqlalchemy import update

from support.console import REASON, Console
from vigil.api.app import STATIC
from vigil.storage.schema import events, segments
from vigil.timeutil import US, to_iso

pytest_plugins = ["support.console"]

REFUSED = (400, 403, 404, 422)
SECRET = "TOP SECRET: planted outside the storage"
LEAKS = ("import ", "root:", SECRET)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def send(
    console: Console,
    target: str,
    role: str | None = None,
    method: str = "GET",
    body: dict[str, Any] | None = None,
) -> Answer:
    """`target` exactly as written (path and query), as uvicorn would pass it to the app."""
    path, _, query = target.partition("?")
    headers = {"host": "127.0.0.1", **REASON}
    if role is not None:
        headers["authorization"] = f"Bearer {console.tokens[role]}"
    content = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        headers["content-type"] = "application/json"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    messages: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": content, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def collect(message: dict[str, Any]) -> None:
        messages.append(message)

    try:
        anyio.run(console.client.app, scope, receive, collect)
    except Exception as exc:  # the app's own error page was sent; keep the cause for the report
        return Answer(500, repr(exc).encode())
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    return Answer(status, b"".join(m.get("body", b"") for m in messages))


def assert_refused(answer: Answer, target: str, *also_secret: bytes) -> None:
    shown = f"{target[:120]} -> {answer.status} {answer.body[:200]!r}"
    assert answer.status in REFUSED, shown
    for leak in (*(s.encode() for s in LEAKS), *also_secret):
        assert leak not in answer.body, shown


@pytest.fixture(scope="module")
def planted(module_console: Console) -> Path:
    """A secret file beside the storage directory, for names that try to climb out to it."""
    secret = module_console.directory / "secret.txt"
    secret.write_text(SECRET)
    return secret


def _ids(values: list[str]) -> list[Any]:
    return [pytest.param(v, id=v if len(v) < 60 else f"{v[:20]}...{len(v)}") for v in values]


NAMES = [
    "..",
    "%2e%2e",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%2F..%2Fetc%2Fpasswd",
    "..%2F..%2Fsecret.txt",
    "gate%2F..%2F..%2F..%2Fsecret.txt",
    "..%5C..%5Cetc%5Cpasswd",
    "..\\..\\secret.txt",
    "%2Fetc%2Fpasswd",
    "gate%00",
    "gate%00..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%252e%252e%252fetc%252fpasswd",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "g" * 5000,
]
CAMERA_ROUTES = [
    "/api/v1/cameras/{}",
    "/api/v1/cameras/{}/live.mp4",
    "/api/v1/recordings/{}",
    "/api/v1/playback/{}/playlist.m3u8",
    "/api/v1/playback/{}/video.mp4",
    "/api/v1/playback/{}/segments/1.ts?grant=1.1.x",
    "/api/v1/events?camera={}",
]


@pytest.mark.parametrize("route", CAMERA_ROUTES)
@pytest.mark.parametrize("name", _ids(NAMES))
def test_camera_names_lead_nowhere(module_console: Console, route: str, name: str) -> None:
    target = route.format(name)
    assert_refused(send(module_console, target, "investigator"), target)


@pytest.mark.parametrize("route", CAMERA_ROUTES)
def test_raw_dot_segments_and_absolute_paths_in_camera_routes(
    module_console: Console, planted: Path, route: str
) -> None:
    outside = str(planted)
    for name in ("../../etc/passwd", "../../secret.txt", outside, quote(outside, safe="")):
        target = route.format(name)
        assert_refused(send(module_console, target, "investigator"), target)


def test_the_camera_routes_do_answer_for_a_real_camera(module_console: Console) -> None:
    """The refusals above come from the names, not from routes that refuse everything."""
    for route in CAMERA_ROUTES:
        if "live" in route or "segments" in route:
            continue  # gate's live view never ends; a segment needs a grant (tested below)
        target = route.format("gate")
        answer = send(module_console, target, "investigator")
        assert answer.status == 200, f"{target}: {answer.status} {answer.body[:200]!r}"


EVENT_IDS = [
    "..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "{event}%2F..%2F..%2F..%2Fsecret.txt",
    "{event}%00",
    "{event}%00..%2F..%2Fsecret.txt",
    "%2Fetc%2Fpasswd",
    "{event}..%5C..%5Csecret.txt",
    "e" * 5000,
]


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "/api/v1/events/{}"),
        ("GET", "/api/v1/events/{}/snapshot.jpg"),
        ("GET", "/api/v1/events/{}/snapshot.jpg?clean=true"),
        ("POST", "/api/v1/events/{}/review"),
    ],
)
@pytest.mark.parametrize("event_id", _ids(EVENT_IDS))
def test_event_ids_lead_nowhere(
    module_console: Console, method: str, route: str, event_id: str
) -> None:
    target = route.format(event_id.format(event=module_console.event_id))
    body = {"verdict": "acknowledged", "note": ""} if method == "POST" else None
    assert_refused(send(module_console, target, "investigator", method, body), target)


def test_the_event_routes_do_answer_for_a_real_event(module_console: Console) -> None:
    for route in ("/api/v1/events/{}", "/api/v1/events/{}/snapshot.jpg"):
        target = route.format(module_console.event_id)
        assert send(module_console, target, "investigator").status == 200, target


def _grant(console: Console) -> str:
    """A valid grant for the gate camera, from the (audited) playlist that issues it."""
    since, until = to_iso(console.start_us - US), to_iso(console.end_us + US)
    target = f"/api/v1/playback/gate/playlist.m3u8?since={quote(since)}&until={quote(until)}"
    answer = send(console, target, "investigator")
    assert answer.status == 200, answer.body
    line = next(x for x in answer.body.decode().splitlines() if ".ts?grant=" in x)
    return line.partition("grant=")[2]


SEGMENT_TARGETS = [
    "1%2F..%2F..%2F..%2F..%2Fsecret.txt%00.ts",
    "1/../../../../secret.txt",
    "1/../../../../secret.ts",
    "..%2F..%2F..%2F..%2Fsecret.ts",
    "%2e%2e.ts",
    "1%00.ts",
    "1.ts%00",
    "-1.ts",
    "0.ts",
    "99999999999999999999.ts",  # past what a database integer holds: once a server error
    "9223372036854775808.ts",
    "1e3.ts",
]


@pytest.mark.parametrize("segment", _ids(SEGMENT_TARGETS))
def test_segment_ids_lead_nowhere_even_with_a_grant(
    module_console: Console, planted: Path, segment: str
) -> None:
    grant = _grant(module_console)
    target = f"/api/v1/playback/gate/segments/{segment}?grant={grant}"
    assert_refused(send(module_console, target, "investigator"), target)


def test_a_granted_segment_is_served(module_console: Console) -> None:
    grant = _grant(module_console)
    segment_id = module_console.segment_ids[0]
    answer = send(
        module_console,
        f"/api/v1/playback/gate/segments/{segment_id}.ts?grant={grant}",
        "investigator",
    )
    assert answer.status == 200
    assert answer.body[:1] == b"\x47"  # an MPEG-TS packet


@pytest.mark.parametrize(
    "grant",
    _ids(
        [
            "../../etc/passwd",
            "..%2F..%2Fsecret.txt",
            "%2e%2e%2f%2e%2e%2fsecret.txt",
            "%00",
            "1.1.x%00../../secret.txt",
            "%2Fetc%2Fpasswd",
            "{grant}%2F..%2F..%2Fsecret.txt",
            "{grant}%00",
            "..\\..\\secret.txt",
        ]
    ),
)
def test_grants_lead_nowhere(module_console: Console, planted: Path, grant: str) -> None:
    segment_id = module_console.segment_ids[0]
    value = grant.format(grant=_grant(module_console)) if "{grant}" in grant else grant
    target = f"/api/v1/playback/gate/segments/{segment_id}.ts?grant={value}"
    assert_refused(send(module_console, target, "investigator"), target)


USER_NAMES = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2fviewer1",
    "viewer1%00",
    "viewer1%00..%2F..%2Fsecret.txt",
    "%2Fetc%2Fpasswd",
    "..%5Cviewer1",
    "VIEWER1",
    "u" * 5000,
]


@pytest.mark.parametrize("user", _ids(USER_NAMES))
def test_user_names_lead_nowhere(module_console: Console, user: str) -> None:
    target = f"/api/v1/users/{user}/disable"
    assert_refused(send(module_console, target, "admin", "POST"), target)
    # None of them reached the account its name plays on.
    assert send(module_console, "/api/v1/auth/me", "viewer").status == 200


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\..\\x", "/etc/passwd", "x\x00y", "a/b", "x" * 65]
)
def test_new_accounts_cannot_be_named_as_paths(module_console: Console, name: str) -> None:
    body = {"name": name, "roles": ["viewer"]}
    assert_refused(send(module_console, "/api/v1/users", "admin", "POST", body), name)


STATIC_TARGETS = [
    "/static/../../cli.py",
    "/static/../api/access.py",
    "/static/%2e%2e/%2e%2e/config.py",
    "/static/%2E%2E/%2E%2E/config.py",
    "/static/..%2f..%2fapi/access.py",
    "/static/%2e%2e%2f%2e%2e%2fcli.py",
    "/static/..%5c..%5capi%5caccess.py",
    "/static/..\\..\\api\\access.py",
    "/static/....//....//cli.py",
    "/static/%252e%252e/%252e%252e/cli.py",
    "/static/" + "../" * 12 + "etc/passwd",
    "/static/" + "%2e%2e/" * 12 + "etc/passwd",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
    "/static/app.js%00../../cli.py",
    "/static/..%00/cli.py",
    "/static/" + "a" * 5000,
]


@pytest.mark.parametrize("target", _ids(STATIC_TARGETS))
def test_static_files_stay_in_their_directory(module_console: Console, target: str) -> None:
    for role in (None, "viewer"):
        assert_refused(send(module_console, target, role), target)


def test_static_files_cannot_reach_a_planted_file(module_console: Console, planted: Path) -> None:
    relative = Path("..") / Path(*[".."] * len(STATIC.parts)) / planted.relative_to("/")
    for target in (
        f"/static/{relative}",
        f"/static/{quote(str(relative), safe='')}",
        f"/static/{str(relative).replace('..', '%2e%2e')}",
        f"/static/{planted}",
    ):
        assert_refused(send(module_console, target), target)


def test_the_static_route_does_serve_the_console(module_console: Console) -> None:
    answer = send(module_console, "/static/app.js")
    assert answer.status == 200
    assert answer.body


@dataclass(frozen=True)
class Outside:
    """Files outside storage worth stealing: a real recording and a real snapshot (so that a
    route without the check would serve them happily), and a text secret."""

    video: Path
    picture: Path
    text: Path


@pytest.fixture
def outside(console: Console) -> Outside:
    context: Any = console.context
    video = console.directory / "outside.ts"
    shutil.copy(next(context.layout.recordings.rglob("*.ts")), video)
    picture = console.directory / "outside.jpg"
    shutil.copy(next(context.layout.snapshots.rglob("*.jpg")), picture)
    text = console.directory / "secret.txt"
    text.write_text(SECRET)
    return Outside(video, picture, text)


def _plant_segment(console: Console, path: str, slot: int) -> tuple[int, int, int]:
    """A segment row of camera gate at its own time after the real footage, pointing at
    `path`; returns its id, start and end."""
    context: Any = console.context
    start = console.end_us + (slot + 1) * 10 * US
    end = start + 2 * US
    with context.engine.begin() as connection:
        inserted = connection.execute(
            segments.insert().values(
                camera="gate",
                start_us=start,
                end_us=end,
                path=path,
                bytes=1000,
                sha256="0" * 64,
                state="ok",
            )
        )
    return inserted.inserted_primary_key[0], start, end


def test_segment_rows_pointing_outside_recordings_are_not_served(
    console: Console, outside: Outside
) -> None:
    context: Any = console.context
    link = context.layout.recordings / "gate" / "link.ts"
    link.symlink_to(outside.video)
    stored = [
        "../../outside.ts",
        "../../secret.txt",
        "gate/../../../outside.ts",
        str(outside.video),
        str(outside.text),
        "gate/link.ts",
    ]
    video = outside.video.read_bytes()
    grant = _grant(console)
    for slot, path in enumerate(stored):
        segment_id, start, end = _plant_segment(console, path, slot)
        target = f"/api/v1/playback/gate/segments/{segment_id}.ts?grant={grant}"
        assert_refused(send(console, target, "investigator"), f"{path}: {target}", video[:4096])
        since, until = quote(to_iso(start - US // 10) or ""), quote(to_iso(end) or "")
        target = f"/api/v1/playback/gate/video.mp4?since={since}&until={until}"
        assert_refused(send(console, target, "investigator"), f"{path}: {target}")


def test_event_snapshots_pointing_outside_the_snapshots_are_not_served(
    console: Console, outside: Outside
) -> None:
    context: Any = console.context
    link = context.layout.snapshots / "link.jpg"
    link.symlink_to(outside.picture)
    picture = outside.picture.read_bytes()
    target = f"/api/v1/events/{console.event_id}/snapshot.jpg"
    assert send(console, target, "investigator").status == 200  # the real one is served
    for stored in (
        "../outside.jpg",
        "../../outside.jpg",
        "../../secret.txt",
        str(outside.picture),
        "/etc/passwd",
        "link.jpg",
    ):
        with context.engine.begin() as connection:
            connection.execute(
                update(events)
                .where(events.c.id == console.event_id)
                .values(snapshot=stored, clean_snapshot=stored)
            )
        for clean in ("false", "true"):
            answer = send(console, f"{target}?clean={clean}", "investigator")
            assert_refused(answer, f"{stored} (clean={clean})", picture[:4096])
