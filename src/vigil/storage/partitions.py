"""Monthly partitions of the events table on PostgreSQL, made ahead of need.

Alembic makes the partitioned table and its DEFAULT partition (0011); this makes the months,
from the earliest event's to MONTHS_AHEAD after now. A month whose rows already sit in the
DEFAULT partition (events older than any partition, from a site back after a long outage) is
made by detaching DEFAULT, creating the month, moving its rows, and attaching DEFAULT again,
in one transaction. SQLite keeps one table: nothing to do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from vigil.timeutil import US, to_datetime

MONTHS_AHEAD = 3
MONTHS_BACK = 24  # rows older than this (a camera's clock far off) stay in DEFAULT


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return month_start(
        moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1, day=1)
    )


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * US


def ensure_partitions(engine: Engine) -> list[str]:
    """Create the missing monthly partitions; returns their names."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        oldest = connection.scalar(text("SELECT min(start_us) FROM events"))
        existing = set(
            connection.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
                )
            )
        )
    now = datetime.now(UTC)
    earliest = month_start(now.replace(year=now.year - MONTHS_BACK // 12, day=1))
    month = max(earliest, month_start(to_datetime(oldest) if oldest is not None else now))
    last = month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    made = []
    while month <= last:
        name = f"events_{month:%Y_%m}"
        if name not in existing:
            _create(engine, name, _us(month), _us(next_month(month)))
            made.append(name)
        month = next_month(month)
    return made


def _create(engine: Engine, name: str, since_us: int, until_us: int) -> None:
    bounds = f"FOR VALUES FROM ({since_us}) TO ({until_us})"
    with engine.begin() as connection:
        stranded = connection.scalar(
            text("SELECT count(*) FROM events_default WHERE start_us >= :a AND start_us < :b"),
            {"a": since_us, "b": until_us},
        )
        if not stranded:
            connection.execute(text(f"CREATE TABLE {name} PARTITION OF events {bounds}"))
            return
        connection.execute(text("ALTER TABLE events DETACH PARTITION events_default"))
        connection.execute(text(f"CREATE TABLE {name} PARTITION OF events {bounds}"))
        connection.execute(
            text(
                "WITH moved AS (DELETE FROM events_default WHERE start_us >= :a AND start_us < :b "
                "RETURNING *) INSERT INTO events SELECT * FROM moved"
            ),
            {"a": since_us, "b": until_us},
        )
        connection.execute(text("ALTER TABLE events ATTACH PARTITION events_default DEFAULT"))
