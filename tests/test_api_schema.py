"""Property tests of the REST API over every operation of its own OpenAPI schema: whatever the
input, no answer is a server error, and nobody gets past a non-public route without signing in.

Schemathesis generates valid and invalid requests from the schema against the real app on a
real database with real footage. Random strings rarely make an ISO time or name a real camera,
so half the cases are sharpened: their path parameters name the real camera and event, their
times are ISO times anywhere in the calendar in any zone (short ranges included), and their
integers are often far beyond what a database column holds.

Operations are parametrised from the access table (known when tests are collected; the schema
needs the running app) and a separate test checks that the two list the same operations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.console import REASON, ROLES, Console
from vigil.api.access import ACCESS

pytest_plugins = ["support.console"]

NOT_IN_SCHEMA = {("GET", "/")}  # the console's page, not part of the API
OPERATIONS = sorted(set(ACCESS) - NOT_IN_SCHEMA)
LIVE = "/api/v1/cameras/{name}/live.mp4"
TIMES = ("since", "until")

fuzzing = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # the same amount of work on every run, whatever failed before
)

OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# The first and last moments of the calendar in a zone may lie outside years 1-9999 in UTC.
EDGES = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.sampled_from([datetime.min, datetime.max]),
    OFFSETS,
)
MOMENTS = st.one_of(st.datetimes(timezones=st.none() | OFFSETS), EDGES)
# Unbounded integers, and the ones just past what a 64-bit database column holds.
INTEGERS = st.one_of(st.integers(), st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1]))


@pytest.fixture(scope="module")
def api_schema(module_console: Console) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", module_console.client.app)


@pytest.fixture(scope="module")
def every_role(module_console: Console) -> dict[str, str]:
    """Bearer and evidence headers of one account holding every role, so every route is open."""
    context = module_console.context
    user = context.accounts.add("everyone1", "a long enough password for tests", list(ROLES))
    return {"Authorization": f"Bearer {context.tokens.issue(user.id, 'schema tests')}", **REASON}


@st.composite
def _times(draw: st.DrawFn) -> dict[str, str]:
    """since and/or until as ISO times, the end often shortly after the start so that the
    range is one the API accepts."""
    since = draw(MOMENTS)
    try:
        until = since + draw(st.timedeltas(timedelta(0), timedelta(days=2)))
    except OverflowError:
        until = draw(MOMENTS)
    values = {"since": since.isoformat(), "until": until.isoformat()}
    return {k: values[k] for k in draw(st.sampled_from([TIMES, TIMES[:1], TIMES[1:]]))}


def _is_integer(parameter: Any) -> bool:
    schema = parameter.definition.get("schema", {})
    return "integer" in [schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))]


def _draw_case(
    data: st.DataObject, schema: schemathesis.BaseSchema, method: str, path: str, console: Console
) -> schemathesis.Case:
    """Half the time a case as Schemathesis makes it, valid or not; half the time a valid one,
    sharpened with real names, ISO times and huge integers, to get past the first checks."""
    operation = schema[path][method]
    if not data.draw(st.booleans(), label="sharpened"):
        modes = schemathesis.GenerationMode
        case = data.draw(st.one_of([operation.as_strategy(mode) for mode in modes]))
    else:
        real = {"camera": "gate", "name": "gate", "event_id": console.event_id}
        known = {p.name: real[p.name] for p in operation.path_parameters if p.name in real}
        case = data.draw(operation.as_strategy(path_parameters=known))
        if {p.name for p in operation.query} >= set(TIMES):
            case.query.update(data.draw(_times()))
        for parameter in [*operation.query, *operation.path_parameters]:
            if _is_integer(parameter) and data.draw(st.booleans()):
                values = case.path_parameters if parameter.location == "path" else case.query
                values[parameter.name] = data.draw(INTEGERS)
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
@fuzzing
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
    if not ACCESS[(method, path)].public and _reached(response):
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@fuzzing
@given(data=st.data())
def test_no_input_makes_a_server_error(
    module_console: Console,
    api_schema: schemathesis.BaseSchema,
    every_role: dict[str, str],
    method: str,
    path: str,
    data: st.DataObject,
) -> None:
    case = _draw_case(data, api_schema, method, path, module_console)
    response = case.call(headers=dict(every_role))
    assert response.status_code < 500, response.text
    # Outside signing in, a 401 would mean the fuzzing ended the account (say, disabled it), so
    # that every later example tested only the sign-in check.
    if response.status_code == 401:
        assert ACCESS[(method, path)].public, response.text
