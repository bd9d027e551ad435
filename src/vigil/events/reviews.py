"""Operators' verdicts on events: acknowledged, or a false alarm, with a note. The latest
verdict stands; every one is also in the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select

from vigil.storage.schema import event_reviews
from vigil.timeutil import now_us


@dataclass(frozen=True)
class Review:
    event_id: str
    verdict: str
    note: str
    user_name: str
    at_us: int


class ReviewStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(
        self,
        event_id: str,
        verdict: str,
        note: str,
        user_name: str,
        audit: Callable[[Connection], object] | None = None,
    ) -> None:
        """Record the verdict; `audit` writes the audit record in the same transaction."""
        row = {
            "event_id": event_id,
            "verdict": verdict,
            "note": note,
            "user_name": user_name,
            "at_us": now_us(),
        }
        with self.engine.begin() as connection:
            connection.execute(delete(event_reviews).where(event_reviews.c.event_id == event_id))
            connection.execute(insert(event_reviews).values(**row))
            if audit:
                audit(connection)

    def get_many(self, event_ids: Iterable[str]) -> dict[str, Review]:
        ids = list(event_ids)
        if not ids:
            return {}
        query = select(event_reviews).where(event_reviews.c.event_id.in_(ids))
        with self.engine.connect() as connection:
            return {r.event_id: Review(**r._mapping) for r in connection.execute(query)}
