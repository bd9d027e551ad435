"""Property tests of the REST API over every operation of its own OpenAPI schema: whatever the
input, no answer is a server error, and nobody gets past a non-public route without signing in.

Schemathesis generates valid and invalid requests from the schema against the real app on a
real database with real footage. Random strings rarely make an ISO time or name a real camera,
so half the generated cases are sharpened: their path parameters and filters name the real
camera, site and event, their times are ISO times anywhere in the calendar in any zone, and one
parameter may hold an integer beyond what a database column holds or odd text (NUL, paths).
A deterministic sweep then puts each extreme value into each parameter of each operation, so
that those classes of input are covered on every run, not only when the dice say so.

Operations are parametrised from the access table (known when tests are collected; the schema
needs the running app) and a separate test checks that the two list the same operations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.console import REASON, ROLES, Console, open_console
from vigil.api.access import ACCESS

pytest_plugins = ["support.console"]

NOT_IN_SCHEMA = {("GET", "/")}  # the console's page, not part of the API
# OpenAPI names a path parameter without its converter ({reference:path} is {reference}).
RULES = {(method, path.replace(":path}", "}")): rule for (method, path), rule in ACCESS.items()}
OPERATIONS = sorted(set(RULES) - NOT_IN_SCHEMA)
LIVE = "/api/v1/cameras/{name}/live.mp4"
TIMES = ("since", "until")

# The same amount of work on every run (no replayed failures from a database), and no deadline:
# some examples remux real footage.
fuzzing = settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
# Without an account every operation stops at the same check, so fewer examples show it.
anonymous = settings(fuzzing, max_examples=20)

# Extreme values, each of which once made (or could make) a server error somewhere.
EXTREME_INTEGERS = [2**63 - 1, 2**63, 2**64, -(2**63) - 1, -1, 0, 10**100]
ODD_TEXT = [
    "\x00",  # PostgreSQL text cannot hold NUL
    "gate\x00",
    "../../../etc/passwd",
    "..\\..\\x",
    "%00",
    "'; --",
    "\u202egate",
    "\ufeff",
    "😀" * 16,
]
EDGE_TIMES = [
    "0001-01-01T00:00:00+14:00",  # year 0 once in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 once in UTC
    "0001-01-01T00:30:00Z",  # a default range back from here starts before year 1
    "1970-01-01T00:00:00Z",  # zero microseconds
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00+99:00",
    "10000-01-01T00:00:00Z",
    "0" * 64,
]
EDGE_RANGES = [
    ("0001-01-01T00:00:00+14:00", "0001-01-01T01:00:00+14:00"),
    ("9999-12-31T23:00:00-14:00", "9999-12-31T23:59:59-14:00"),
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z"),
]
BODIES = {("POST", "/api/v1/events/{event_id}/review"): {"verdict": "acknowledged", "note": ""}}

MINUTES = 23 * 60 + 59  # the widest UTC offset ISO 8601 times can carry here


def _offsets(low: int, high: int) -> st.SearchStrategy[timezone]:
    return st.integers(low, high).map(lambda minutes: timezone(timedelta(minutes=minutes)))


# The first moment of the calendar east of UTC and its last west of UTC lie outside the years
# 1-9999 once moved to UTC.
EDGES = st.one_of(
    _offsets(1, MINUTES).map(lambda zone: datetime.min.replace(tzinfo=zone)),
    _offsets(-MINUTES, -1).map(lambda zone: datetime.max.replace(tzinfo=zone)),
)
MOMENTS = st.one_of(st.datetimes(timezones=st.none() | _offsets(-MINUTES, MINUTES)), EDGES)
INTEGERS = st.one_of(st.integers(), st.sampled_from(EXTREME_INTEGERS))


def _schema(console: Console) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", console.client.app)


def _real(console: Console) -> dict[str, str]:
    """Parameter values naming what the console holds: its camera, site, event and type."""
    return {
        "camera": "gate",
        "name": "gate",
        "site": "north",
        "type": "intrusion",
        "event_id": console.event_id,
    }


@pytest.fixture(scope="module")
def api_schema(module_console: Console) -> schemathesis.BaseSchema:
    return _schema(module_console)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_database_console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, camera_clip: Path
) -> Iterator[Console]:
    """The console on each database: what input a database refuses differs (PostgreSQL text
    cannot hold NUL, for one), and such a refusal must not surface as a server error."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").new_database()
    with open_console(tmp_path_factory.mktemp("console"), camera_clip, url, sweeps=True) as console:
        yield console


@pytest.fixture(scope="module")
def any_database_schema(any_database_console: Console) -> schemathesis.BaseSchema:
    return _schema(any_database_console)


@pytest.fixture(scope="module")
def every_role(any_database_console: Console) -> dict[str, str]:
    """Bearer and evidence headers of one account holding every role, so every route is open."""
    context: Any = any_database_console.context
    user = context.accounts.add("everyone1", "a long enough password for tests", list(ROLES))
    return {"Authorization": f"Bearer {context.tokens.issue(user.id, 'schema tests')}", **REASON}


@st.composite
def _times(draw: st.DrawFn) -> dict[str, str]:
    """since and/or until as ISO times, the end within a day of the start so that the range is
    one the API accepts."""
    since = draw(MOMENTS)
    try:
        until = since + draw(st.timedeltas(timedelta(seconds=1), timedelta(days=1)))
    except OverflowError:
        until = draw(MOMENTS)
    values = {"since": since.isoformat(), "until": until.isoformat()}
    return {k: values[k] for k in draw(st.sampled_from([TIMES, TIMES[:1], TIMES[1:]]))}


def _typed(parameter: Any, kind: str) -> bool:
    schema = parameter.definition.get("schema", {})
    return kind in [schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))]


def _extremes(parameter: Any) -> list[Any]:
    if _typed(parameter, "integer"):
        return EXTREME_INTEGERS
    return EDGE_TIMES if parameter.name in TIMES else ODD_TEXT


def _draw_case(
    data: st.DataObject, schema: schemathesis.BaseSchema, method: str, path: str, console: Console
) -> schemathesis.Case:
    """Half the time a case as Schemathesis makes it, valid or not; half the time a valid one
    sharpened with real names, ISO times and one extreme integer or odd text, to get past the
    first checks to where such input does harm."""
    operation = schema[path][method]
    if not data.draw(st.booleans(), label="sharpened"):
        modes = schemathesis.GenerationMode
        case = data.draw(st.one_of([operation.as_strategy(mode) for mode in modes]))
    else:
        real = _real(console)
        known = {p.name: real[p.name] for p in operation.path_parameters if p.name in real}
        case = data.draw(operation.as_strategy(path_parameters=known))
        for name in real.keys() & case.query.keys():  # filters, when given, that match
            case.query[name] = known[name] = real[name]
        if {p.name for p in operation.query} >= set(TIMES):
            case.query.update(data.draw(_times()))
        # At most one parameter made extreme, so that the others stay valid and the request
        # gets through to where that one is used.
        others = [
            p
            for p in [*operation.query, *operation.path_parameters]
            if p.name not in (*TIMES, *known)
        ]
        chosen = data.draw(st.sampled_from([None, *others]))
        if chosen is not None:
            target = case.path_parameters if chosen.location == "path" else case.query
            extreme = INTEGERS if _typed(chosen, "integer") else st.sampled_from(ODD_TEXT)
            target[chosen.name] = data.draw(extreme)
    # The gate camera has recent footage, so its live view would stream for ever; the market
    # camera has none and answers at once, through the same code.
    if path == LIVE and case.path_parameters.get("name") == "gate":
        case.path_parameters["name"] = "market"
    return case


def _reached(response: schemathesis.Response) -> bool:
    """Whether the request reached the access check. A path parameter holding '/' can lead to
    no route at all, which the router answers with its own bare 404; and FastAPI decodes a JSON
    body before any dependency runs, so a body that cannot be decoded is refused (400, or 422
    when it is not JSON) before the caller is asked who they are. None of these holds data."""
    status = response.status_code
    if status == 404:
        return response.json() != {"detail": "Not Found"}
    if status == 400:
        return response.json() != {"detail": "There was an error parsing the body"}
    if status == 422:
        return any(error["type"] != "json_invalid" for error in response.json()["detail"])
    return True


def test_the_schema_lists_every_operation_of_the_access_table(
    api_schema: schemathesis.BaseSchema,
) -> None:
    listed = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert listed == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@anonymous
@given(data=st.data())
def test_anonymous_callers_get_no_data_and_no_server_error(
    module_console: Console,
    api_schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    data: st.DataObject,
) -> None:
    case = _draw_case(data, api_schema, method, path, module_console)
    response = case.call()
    assert response.status_code < 500, response.text
    if not RULES[(method, path)].public and _reached(response):
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@fuzzing
@given(data=st.data())
def test_no_input_makes_a_server_error(
    any_database_console: Console,
    any_database_schema: schemathesis.BaseSchema,
    every_role: dict[str, str],
    method: str,
    path: str,
    data: st.DataObject,
) -> None:
    case = _draw_case(data, any_database_schema, method, path, any_database_console)
    response = case.call(headers=dict(every_role))
    assert response.status_code < 500, response.text
    # Outside signing in, a 401 would mean the fuzzing ended the account (say, disabled it), so
    # that every later example tested only the sign-in check.
    if response.status_code == 401:
        assert RULES[(method, path)].public, response.text


def _sweep(operation: Any, real: dict[str, str]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(path parameters, query) with one parameter extreme and the rest real or left out."""
    parameters = [*operation.path_parameters, *operation.query]
    base = {p.name: real.get(p.name, 1 if _typed(p, "integer") else "x") for p in parameters}
    path = {p.name: base[p.name] for p in operation.path_parameters}
    for parameter in parameters:
        for value in _extremes(parameter):
            if parameter.location == "path":
                yield {**path, parameter.name: value}, {}
            else:
                yield path, {parameter.name: value}
    if {p.name for p in operation.query} >= set(TIMES):
        for since, until in EDGE_RANGES:
            yield path, {"since": since, "until": until}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_extreme_value_in_any_parameter_makes_a_server_error(
    any_database_console: Console,
    any_database_schema: schemathesis.BaseSchema,
    every_role: dict[str, str],
    method: str,
    path: str,
) -> None:
    operation = any_database_schema[path][method]
    client = TestClient(any_database_console.client.app, raise_server_exceptions=False)
    failures = []
    for path_parameters, query in _sweep(operation, _real(any_database_console)):
        if path == LIVE and path_parameters["name"] == "gate":
            continue  # a live view of the gate camera never ends
        url = path.format(**{k: quote(str(v), safe="") for k, v in path_parameters.items()})
        response = client.request(
            method, url, params=query, headers=every_role, json=BODIES.get((method, path))
        )
        if response.status_code >= 500:
            failures.append(f"{url} {query}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text", ODD_TEXT)
def test_odd_text_in_a_sign_in_name_or_an_evidence_reason_is_refused(
    any_database_console: Console, every_role: dict[str, str], text: str
) -> None:
    """Both end up in the audit trail, which must never be left unable to record a request;
    they are not parameters of the schema, so the sweep above does not reach them."""
    client = TestClient(any_database_console.client.app, raise_server_exceptions=False)
    login = client.post("/api/v1/auth/login", json={"name": text, "password": "not this one"})
    assert login.status_code in (401, 422, 429), login.text
    bearer = {"Authorization": every_role["Authorization"]}
    reason = {"case": "CASE-1", "reason": f"door forced {text}"}
    search = client.get("/api/v1/events", params=reason, headers=bearer)
    assert search.status_code in (200, 400), search.text
