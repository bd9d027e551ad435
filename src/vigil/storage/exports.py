"""Export jobs: who asked for which footage to leave, for which case and why, and how far the
package has got.

A redacted export (the default) is queued at once. An unredacted one waits for a second
account, never the requester, to approve it (the two-person rule of holds). The exporter
(vigil.export.worker) claims queued jobs, reports progress in bytes and segments, and marks a
job complete only once its package directory is sealed and in place, so a crash can leave a
job running (it resumes) but never a half-written package reported as complete.

Every change a person makes commits with its audit record, as for holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from vigil.errors import EvidenceError
from vigil.storage.evidence import Audit, open_case
from vigil.storage.requests import change, fetch, found, one, second_person
from vigil.storage.schema import EXPORTS_WAITING, exports
from vigil.timeutil import now_us, to_iso


@dataclass(frozen=True)
class Export:
    id: int
    case_reference: str
    camera: str
    since_us: int
    until_us: int
    redacted: bool
    reason: str
    state: str
    requested_by: str
    requested_us: int
    request_seq: int | None
    approved_by: str | None
    approved_us: int | None
    approval_seq: int | None
    ended_by: str | None
    phase: str | None
    segments_total: int
    segments_done: int
    bytes_total: int
    bytes_done: int
    package: str | None
    unmasked: bool
    manifest_sha256: str | None
    error: str | None
    finished_us: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case_reference,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "redacted": self.redacted,
            "unmasked": self.unmasked,
            "reason": self.reason,
            "state": self.state,
            "requested_by": self.requested_by,
            "requested": to_iso(self.requested_us),
            "approved_by": self.approved_by,
            "approved": to_iso(self.approved_us),
            "ended_by": self.ended_by,
            "phase": self.phase,
            "progress": {
                "segments_done": self.segments_done,
                "segments_total": self.segments_total,
                "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total,
            },
            "manifest_sha256": self.manifest_sha256,
            "error": self.error,
            "finished": to_iso(self.finished_us),
        }

    def record(self) -> dict[str, Any]:
        """What its audit records carry."""
        return {
            "export": self.id,
            "case": self.case_reference,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "redacted": self.redacted,
            "state": self.state,
        }


class ExportStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def request(
        self,
        case_reference: str,
        camera: str,
        since_us: int,
        until_us: int,
        redacted: bool,
        reason: str,
        user: str,
        audit: Audit,
        unmasked: bool = False,
    ) -> Export:
        if until_us <= since_us:
            raise EvidenceError("an export needs until after since")
        if until_us > now_us():
            raise EvidenceError(
                f"an export takes footage already recorded; until {to_iso(until_us)} is in the "
                "future: ask again once the footage exists"
            )
        with self.engine.begin() as connection:
            open_case(connection, case_reference)
            row = {
                "case_reference": case_reference,
                "camera": camera,
                "since_us": since_us,
                "until_us": until_us,
                "redacted": redacted,
                "reason": reason,
                "state": "queued" if redacted else "requested",
                "requested_by": user,
                "requested_us": now_us(),
                "unmasked": unmasked,
            }
            export_id = int(
                connection.execute(insert(exports).values(**row)).inserted_primary_key[0]
            )
            job = _export(connection, export_id)
            seq = audit(connection, "export.request", {**job.record(), "why": reason})
            _set(connection, export_id, request_seq=seq)
            return _export(connection, export_id)

    def approve(self, export_id: int, user: str, audit: Audit) -> Export:
        """The second person of an unredacted export: the job is queued."""
        with self.engine.begin() as connection:
            _second_person(connection, export_id, user, "approve")
            _set(connection, export_id, state="queued", approved_by=user, approved_us=now_us())
            seq = audit(connection, "export.approve", _export(connection, export_id).record())
            _set(connection, export_id, approval_seq=seq)
            return _export(connection, export_id)

    def refuse(self, export_id: int, user: str, audit: Audit) -> Export:
        with self.engine.begin() as connection:
            _second_person(connection, export_id, user, "refuse")
            _set(connection, export_id, state="refused", ended_by=user, finished_us=now_us())
            job = _export(connection, export_id)
            audit(connection, "export.refuse", job.record())
            return job

    def cancel(self, export_id: int, user: str, audit: Audit) -> Export:
        """Stop a job that has not finished; the exporter removes what it had written."""
        with self.engine.begin() as connection:
            job = _export(connection, export_id, lock=True)
            if job.state not in EXPORTS_WAITING:
                raise EvidenceError(
                    f"export {export_id} is {job.state}; only a requested, "
                    "queued or running export can be cancelled",
                    "conflict",
                )
            _set(connection, export_id, state="cancelled", ended_by=user, finished_us=now_us())
            job = _export(connection, export_id)
            audit(connection, "export.cancel", job.record())
            return job

    # -- the exporter's side ------------------------------------------------------------------
    def next_job(self) -> Export | None:
        """The job to work on: one left running by a crash first (it resumes), else the oldest
        queued, which is claimed (running)."""
        with self.engine.begin() as connection:
            for state in ("running", "queued"):
                query = select(exports).where(exports.c.state == state).order_by(exports.c.id)
                row = connection.execute(query.limit(1)).first()
                if row is not None:
                    _set(connection, row.id, state="running")
                    return _export(connection, row.id)
        return None

    def progress(self, export_id: int, **values: Any) -> bool:
        """Record progress; False when the job is no longer running (cancelled meanwhile)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(exports)
                .where(exports.c.id == export_id, exports.c.state == "running")
                .values(**values)
            ).rowcount
        return bool(changed)

    def finish(self, export_id: int, audit: Audit, **values: Any) -> Export | None:
        """Mark a running job complete or failed (values carry state and the rest), with its
        audit record; None when it was cancelled meanwhile."""
        with self.engine.begin() as connection:
            job = _export(connection, export_id, lock=True)
            if job.state != "running":
                return None
            _set(connection, export_id, finished_us=now_us(), phase=None, **values)
            job = _export(connection, export_id)
            detail = {**job.record(), "manifest_sha256": job.manifest_sha256, "error": job.error}
            audit(connection, f"export.{job.state}", detail)
            return job

    def expire(self, before_us: int, audit: Audit) -> list[Export]:
        """Mark complete packages finished before `before_us` expired, each with its audit
        record; the exporter then removes their files (and any an interrupted removal left)."""
        due = select(exports.c.id).where(
            exports.c.state == "complete", exports.c.finished_us < before_us
        )
        with self.engine.connect() as connection:
            ids = list(connection.execute(due).scalars())
        ended = []
        for export_id in ids:
            with self.engine.begin() as connection:
                if _export(connection, export_id, lock=True).state != "complete":
                    continue
                _set(connection, export_id, state="expired")
                job = _export(connection, export_id)
                audit(connection, "export.expire", job.record())
                ended.append(job)
        return ended

    def get(self, export_id: int) -> Export | None:
        row = one(self.engine, exports, export_id)
        return None if row is None else Export(**row)

    def list(
        self, case_reference: str | None = None, cameras: set[str] | None = None
    ) -> list[Export]:
        return [Export(**row) for row in found(self.engine, exports, case_reference, cameras)]


def _export(connection: Connection, export_id: int, *, lock: bool = False) -> Export:
    return Export(**fetch(connection, exports, export_id, "export", lock=lock))


def _second_person(connection: Connection, export_id: int, user: str, verb: str) -> Export:
    job = _export(connection, export_id, lock=True)
    second_person("export", export_id, job.state, "requested", job.requested_by, user, verb)
    return job


def _set(connection: Connection, export_id: int, **values: Any) -> None:
    change(connection, exports, export_id, **values)
