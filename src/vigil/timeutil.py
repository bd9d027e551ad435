"""UTC times as integer microseconds since the epoch: exact, portable, comparable in SQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime

US = 1_000_000
DAY_US = 86_400 * US
HOUR_US = 3_600 * US


def now_us() -> int:
    return time.time_ns() // 1000


def to_datetime(us: int) -> datetime:
    return datetime.fromtimestamp(us / US, tz=UTC)


def to_iso(us: int | None) -> str | None:
    if us is None:
        return None
    return to_datetime(us).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> int:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time; write e.g. 2026-11-29T06:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * US)
