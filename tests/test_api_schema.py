"""Property tests of the REST API over every operation of its own OpenAPI schema: whatever the
input, no answer is a server error, and nobody gets past a non-public route without signing in.
Schemathesis generates valid and invalid inputs (bad ISO times, huge integers, odd strings in
path parameters, malformed bodies) against the real app on a real database with real footage.

Operations are parametrised from the access table (known when tests are collected; the schema
needs the running app) and a separate test checks the two list the same operations."""

from __future__ import annotations

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
EVERY_ROLE = "everyone1"

fuzzing = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # the same amount of work on every run, whatever failed before
)


@pytest.fixture(scope="module")
def api_schema(module_console: Console) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", module_console.client.app)


@pytest.fixture(scope="module")
def every_role(module_console: Console) -> dict[str, str]:
    """Bearer and evidence headers of one account holding every role, so every route is open."""
    context = module_console.context
    user = context.accounts.add(EVERY_ROLE, "a long enough password for tests", list(ROLES))
    return {"Authorization": f"Bearer {context.tokens.issue(user.id, 'schema tests')}", **REASON}


def _cases(
    schema: schemathesis.BaseSchema, method: str, path: str, console: Console
) -> st.SearchStrategy:
    """Valid and invalid requests for one operation: with generated path parameters, and with
    the names of real cameras and a real event, since random names only ever reach the 404 of
    an unknown camera while the real ones lead on to the footage, events and times."""
    operation = schema[path][method]
    real = {"camera": "gate", "name": "gate", "event_id": console.event_id}
    known = {p.name: real[p.name] for p in operation.path_parameters if p.name in real}
    strategies = [operation.as_strategy(mode) for mode in schemathesis.GenerationMode]
    if known:
        strategies += [
            operation.as_strategy(mode, path_parameters=known)
            for mode in schemathesis.GenerationMode
        ]
    return st.one_of(strategies)


def _finite(case: schemathesis.Case) -> None:
    """The gate camera has recent footage, so its live view would stream for ever; the market
    camera has none and answers at once, through the same code."""
    if case.operation.path == LIVE and case.path_parameters.get("name") == "gate":
        case.path_parameters["name"] = "market"


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
        (result.ok().method.upper(), result.ok().path)
        for result in api_schema.get_all_operations()
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
    case = data.draw(_cases(api_schema, method, path, module_console))
    _finite(case)
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
    case = data.draw(_cases(api_schema, method, path, module_console))
    _finite(case)
    response = case.call(headers=dict(every_role))
    assert response.status_code < 500, response.text
    # Outside signing in, a 401 would mean the fuzzing ended the account (say, disabled it), so
    # that every later example tested only the sign-in check.
    if response.status_code == 401:
        assert ACCESS[(method, path)].public, response.text
