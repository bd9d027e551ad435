"""Lookback per role: footage older than an account's roles may look back to is refused (403
with the reason, audited) even though retention still keeps it; a viewer sees live only."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from support.console import PASSWORD, REASON, Console
from vigil.accounts.roles import Role
from vigil.audit import read_records
from vigil.config import RoleName, RoleSettings
from vigil.timeutil import US, to_iso

pytest_plugins = ["support.console"]
FOOTAGE_AGE_S = 120  # the console fixture's footage starts this long ago


def _look(console: Console, roles: dict[str, float | None], token: str) -> dict[str, int]:
    """Each footage route over the fixture's footage, under a `roles:` lookback setting."""
    context: Any = console.context
    context.config = context.config.model_copy(
        update={"roles": {r: RoleSettings(lookback_days=d) for r, d in roles.items()}}
    )
    span = {"since": to_iso(console.start_us), "until": to_iso(console.end_us)}
    headers = {"Authorization": f"Bearer {token}", **REASON}
    console.client.cookies.clear()

    def status(path: str, **params: str) -> int:
        return console.client.get(path, headers=headers, params=params).status_code

    return {
        "events": status("/api/v1/events", **span),
        "recordings": status("/api/v1/recordings/gate", **span),
        "playlist": status("/api/v1/playback/gate/playlist.m3u8", **span),
        "video": status("/api/v1/playback/gate/video.mp4", **span),
        "snapshot": status(f"/api/v1/events/{console.event_id}/snapshot.jpg"),
        "event": status(f"/api/v1/events/{console.event_id}"),
    }


INSIDE = {"events": 200, "recordings": 200, "playlist": 200, "video": 200, "snapshot": 200,
          "event": 200}  # fmt: skip
OUTSIDE = {"events": 403, "recordings": 403, "playlist": 403, "video": 403, "snapshot": 403,
           "event": 403}  # fmt: skip
SHORT = FOOTAGE_AGE_S / 3 / 86400  # days: shorter than the footage's age


@pytest.mark.parametrize(
    ("roles", "account", "expected"),
    [
        ({}, ["investigator"], INSIDE),  # default: the camera's whole retention
        ({"investigator": 1.0}, ["investigator"], INSIDE),
        ({"investigator": SHORT}, ["investigator"], OUTSIDE),
        # An account with two roles may look as far back as the further of them.
        ({"investigator": SHORT, "viewer": 1.0}, ["investigator", "viewer"], INSIDE),
        ({"investigator": SHORT}, ["investigator", "viewer"], OUTSIDE),
    ],
    ids=["default", "inside", "outside", "two-roles-further", "two-roles-viewer-live-only"],
)
def test_the_same_request_inside_and_outside_the_lookback(
    console: Console, roles: dict[str, float], account: list[str], expected: dict[str, int]
) -> None:
    context: Any = console.context
    user = context.accounts.add("looker", PASSWORD, account)
    assert _look(console, roles, context.tokens.issue(user.id, "tests")) == expected
    denied = [r for r in read_records(context.engine, actor="looker", limit=1000)
              if r.outcome == "denied"]  # fmt: skip
    if expected is OUTSIDE:
        assert len(denied) == 6 and all(r.detail["why"] == "lookback" for r in denied)
        assert {r.action for r in denied} == {"events.search", "recordings.list", "playback",
                                              "snapshot.view", "event.view"}  # fmt: skip
    else:
        assert not denied


def test_a_viewer_sees_live_only_by_default(console: Console) -> None:
    context: Any = console.context
    assert context.config.lookback_days(["viewer"]) == 0.0
    assert context.config.lookback_days(["investigator"]) is None
    assert context.config.lookback_days(["supervisor", "viewer"]) is None
    headers = {"Authorization": f"Bearer {console.tokens['viewer']}"}
    console.client.cookies.clear()
    # Live view is not footage from the past: a viewer may watch (market has no recording yet,
    # so an allowed request ends with 404, not 403).
    assert console.client.get("/api/v1/cameras/market/live.mp4", headers=headers).status_code == 404


def test_a_search_reaching_past_the_lookback_finds_only_what_is_within(console: Console) -> None:
    context: Any = console.context
    context.config = context.config.model_copy(
        update={"roles": {"investigator": RoleSettings(lookback_days=SHORT)}}
    )
    headers = {"Authorization": f"Bearer {console.tokens['investigator']}", **REASON}
    console.client.cookies.clear()
    since = to_iso(console.start_us - 3600 * US)
    found = console.client.get("/api/v1/events", headers=headers, params={"since": since})
    assert found.status_code == 200 and found.json()["events"] == []  # the event is older


def test_the_role_names_are_the_accounts_roles() -> None:
    assert set(get_args(RoleName)) == {r.value for r in Role}
