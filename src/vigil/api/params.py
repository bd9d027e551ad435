"""Query parameters shared by routes: times, time ranges and database ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query

from vigil.timeutil import US, now_us, parse_iso, to_datetime

MAX_RANGE_US = 24 * 3600 * US
MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL (BIGINT) store; more is 422, not 500
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it (422) before any query (500)
Since = Annotated[str | None, Query(max_length=64, description="ISO 8601 start (UTC if no zone)")]
Until = Annotated[str | None, Query(max_length=64, description="ISO 8601 end (UTC if no zone)")]


def writable(us: int, field: str) -> int:
    """A time that answers can write back in ISO 8601: one that parses can still fall outside
    the years 1-9999 once moved to UTC (0001-01-01T00:00+14:00), or be pushed there by a default."""
    try:
        to_datetime(us)
    except (ValueError, OverflowError, OSError):
        raise HTTPException(422, f"{field}: use a time between the years 1 and 9999 UTC") from None
    return us


def moment(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    try:
        return writable(parse_iso(value), field)
    except (ValueError, OverflowError, OSError) as exc:
        raise HTTPException(422, f"{field}: {exc}") from None


def time_range(since: str | None, until: str | None, default_s: int = 3600) -> tuple[int, int]:
    """[since, until] in microseconds: at most a day; by default the last `default_s`."""
    until_us = moment(until, "until")
    if until_us is None:
        until_us = now_us()
    since_us = moment(since, "since")
    if since_us is None:
        since_us = writable(until_us - default_s * US, "since")
    if until_us <= since_us:
        raise HTTPException(422, "since must be before until")
    if until_us - since_us > MAX_RANGE_US:
        raise HTTPException(422, "ask for at most 24 hours at a time")
    return since_us, until_us
