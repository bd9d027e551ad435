"""Retrieval jobs at the hub: footage of one site's camera and range, asked for with a case and
a reason (audited in the transaction that queues the job), fetched from the site by the hub's
ingest, and kept in the hub's storage once each segment matches its SHA-256."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select

from vigil.storage.evidence import Audit, open_case
from vigil.storage.requests import change, fetch
from vigil.storage.schema import retrievals
from vigil.timeutil import now_us, to_iso

WAITING = ("queued", "running")


@dataclass(frozen=True)
class Retrieval:
    id: int
    site: str
    camera: str
    since_us: int
    until_us: int
    case_reference: str
    reason: str
    requested_by: str
    requested_us: int
    state: str
    segments_total: int
    segments_done: int
    bytes_done: int
    error: str | None
    finished_us: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "case": self.case_reference,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "requested": to_iso(self.requested_us),
            "state": self.state,
            "segments_total": self.segments_total,
            "segments_done": self.segments_done,
            "bytes_done": self.bytes_done,
            "error": self.error,
            "finished": to_iso(self.finished_us),
        }

    def announcement(self) -> dict[str, Any]:
        """What the site is told, and audits, when the hub asks it for the footage."""
        return {
            "job": self.id,
            "camera": self.camera,
            "since_us": self.since_us,
            "until_us": self.until_us,
            "case": self.case_reference,
            "reason": self.reason,
            "requested_by": self.requested_by,
        }


class RetrievalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def request(
        self,
        site: str,
        camera: str,
        span: tuple[int, int],
        case: str,
        reason: str,
        user: str,
        audit: Audit,
    ) -> Retrieval:
        with self.engine.begin() as connection:
            open_case(connection, case)
            job_id = connection.execute(
                insert(retrievals).values(
                    site=site,
                    camera=camera,
                    since_us=span[0],
                    until_us=span[1],
                    case_reference=case,
                    reason=reason,
                    requested_by=user,
                    requested_us=now_us(),
                    state="queued",
                )
            ).inserted_primary_key[0]
            audit(
                connection, "retrieval.request", {"retrieval": job_id, "site": site, "case": case}
            )
            return Retrieval(**fetch(connection, retrievals, job_id, "retrieval"))

    def list(self, sites: set[str] | None) -> list[Retrieval]:
        query = select(retrievals).order_by(retrievals.c.id.desc())
        if sites is not None:
            query = query.where(retrievals.c.site.in_(sorted(sites)))
        with self.engine.connect() as connection:
            return [Retrieval(**row._mapping) for row in connection.execute(query)]

    def next_job(self, site: str) -> Retrieval | None:
        query = (
            select(retrievals)
            .where(retrievals.c.site == site, retrievals.c.state.in_(WAITING))
            .order_by(retrievals.c.id)
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else Retrieval(**row._mapping)

    def progress(self, job_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            change(connection, retrievals, job_id, **values)
