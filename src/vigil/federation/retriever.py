"""The hub's side of retrieval, run by the ingest for each site: announce the job (the site
audits it), then fetch each segment of it chunk by chunk into the hub's storage, segments
with events first. A partial file is where a dropped link left off; a complete one must match
the SHA-256 the site's index sent before it counts, and is then renamed into place (file,
fsync, rename, directory fsync, row), like a recorded segment."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import nats.errors
from nats.aio.client import Client
from sqlalchemy import Engine, and_, select, update
from sqlalchemy.exc import SQLAlchemyError

from vigil.audit.log import AuditLog, AuditRecord
from vigil.federation.serving import CHUNK, CHUNK_MAX, ERROR, RETRIEVE
from vigil.storage.layout import fsync_dir, make_dirs_durable
from vigil.storage.retrievals import Retrieval, RetrievalStore
from vigil.storage.schema import events, site_segments
from vigil.timeutil import now_us

log = logging.getLogger(__name__)

REPLY_S = 30.0  # a chunk at the slowest uplink Vigil plans for still arrives in this
RETRY_S = 2.0


class LinkDown(Exception):
    """The site does not answer: try again when the link is back."""


class Retriever:
    def __init__(self, engine: Engine, storage: Path, audit: AuditLog) -> None:
        self.engine = engine
        self.store = RetrievalStore(engine)
        self.root = storage / "retrieved"
        self.audit = audit

    async def run(self, client: Client, site: str, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            job = await asyncio.to_thread(self.store.next_job, site)
            try:
                if job is not None:
                    await self._job(client, job)
                    continue
            except LinkDown:
                pass
            except (OSError, SQLAlchemyError) as exc:
                # The hub's disk or database: the job waits, and is tried again.
                log.error("a retrieval cannot go on", extra={"site": site, "error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RETRY_S)

    async def _request(self, client: Client, subject: str, body: dict[str, Any]) -> bytes:
        try:
            reply = await client.request(subject, json.dumps(body).encode(), timeout=REPLY_S)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
            raise LinkDown(str(exc)) from None
        if reply.headers and ERROR in reply.headers:
            raise LookupError(reply.headers[ERROR])
        return reply.data

    async def _job(self, client: Client, job: Retrieval) -> None:
        labels = {"site": job.site, "camera": job.camera, "retrieval": job.id}
        try:
            await self._request(client, RETRIEVE, job.announcement())
        except LookupError as exc:
            await self._finish(job, "failed", str(exc))
            return
        wanted = await asyncio.to_thread(self._segments, job)
        await asyncio.to_thread(
            self.store.progress,
            job.id,
            state="running",
            segments_total=len(wanted) + job.segments_done,
        )
        for segment in wanted:
            try:
                done = await self._segment(client, job, segment)
            except LookupError as exc:
                if "announce" in str(exc):  # the site restarted: it forgets announcements
                    return
                await self._finish(job, "failed", f"segment {segment.segment_id}: {exc}")
                return
            await asyncio.to_thread(self._progress, job, done)
        await self._finish(job, "complete", None)
        log.info("a retrieval is complete", extra=labels)

    def _segments(self, job: Retrieval) -> list[Any]:
        """The job's segments not yet retrieved: those holding events first, then in order."""
        overlap = and_(
            site_segments.c.site == job.site,
            site_segments.c.camera == job.camera,
            site_segments.c.end_us > job.since_us,
            site_segments.c.start_us < job.until_us,
            site_segments.c.state == "available",
        )
        with self.engine.connect() as connection:
            rows = list(
                connection.execute(
                    select(site_segments).where(overlap).order_by(site_segments.c.start_us)
                )
            )
            starts = list(
                connection.scalars(
                    select(events.c.start_us).where(
                        events.c.site == job.site,
                        events.c.camera == job.camera,
                        events.c.start_us < job.until_us,
                        events.c.start_us >= job.since_us,
                    )
                )
            )

        def has_event(row: Any) -> bool:
            return any(row.start_us <= start < row.end_us for start in starts)

        return sorted(rows, key=lambda row: (not has_event(row), row.start_us))

    async def _segment(self, client: Client, job: Retrieval, segment: Any) -> int:
        directory = self.root / job.site / segment.camera
        await asyncio.to_thread(make_dirs_durable, directory)
        final = directory / f"{segment.segment_id}.ts"
        partial = final.with_suffix(".ts.partial")
        with open(partial, "ab") as stream:
            offset = stream.tell()
            while offset < segment.bytes:
                data = await self._request(
                    client,
                    CHUNK,
                    {
                        "job": job.id,
                        "segment": segment.segment_id,
                        "offset": offset,
                        "length": min(CHUNK_MAX, segment.bytes - offset),
                    },
                )
                if not data:
                    raise LookupError("the site sent nothing: the segment is shorter there")
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
                offset += len(data)
        digest = await asyncio.to_thread(_sha256, partial)
        if digest != segment.sha256:
            partial.unlink()
            raise LookupError(
                f"SHA-256 {digest} is not the index's {segment.sha256}; it will "
                "be fetched again by a new retrieval"
            )
        os.replace(partial, final)
        fsync_dir(directory)
        with self.engine.begin() as connection:
            connection.execute(
                update(site_segments)
                .where(
                    site_segments.c.site == job.site,
                    site_segments.c.segment_id == segment.segment_id,
                )
                .values(state="retrieved", path=str(final.relative_to(self.root)))
            )
        return segment.bytes

    def _progress(self, job: Retrieval, size: int) -> None:
        current = self.store.next_job(job.site)
        if current is not None and current.id == job.id:
            self.store.progress(
                job.id,
                segments_done=current.segments_done + 1,
                bytes_done=current.bytes_done + size,
            )

    async def _finish(self, job: Retrieval, state: str, error: str | None) -> None:
        def write() -> None:
            self.store.progress(job.id, state=state, error=error, finished_us=now_us())
            self.audit.append(
                AuditRecord(
                    "vigil",
                    "system",
                    f"retrieval.{state}",
                    "ok",
                    "hub",
                    [job.camera],
                    job.since_us,
                    job.until_us,
                    detail={
                        "retrieval": job.id,
                        "site": job.site,
                        "case": job.case_reference,
                        "error": error,
                    },
                )
            )

        await asyncio.to_thread(write)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
