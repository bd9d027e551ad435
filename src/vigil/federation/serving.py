"""The site's side of retrieval: footage leaves the site only for a job the hub announced with
a case and a reason, which the site audits on arrival, and only as the stored segments of that
job's camera and range, byte for byte, at most federation.uplink_kbps.

The hub asks over the bus (request and reply, in the site's account): RETRIEVE announces a
job, CHUNK asks for `length` bytes of one segment from `offset`. A chunk is at most CHUNK_MAX,
well under NATS's 1 MB message limit, so a clip never rides in one message and a dropped link
costs one chunk, not the segment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg

from vigil.audit.log import AuditLog, AuditRecord
from vigil.errors import AuditError
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout

log = logging.getLogger(__name__)

RETRIEVE = "vigil-hub.retrieve"
CHUNK = "vigil-hub.chunk"
CHUNK_MAX = 256 * 1024
ERROR = "Vigil-Error"  # a refused request's reply carries the reason in this header


@dataclass(frozen=True)
class Job:
    camera: str
    since_us: int
    until_us: int


class Pacer:
    """A token bucket of uplink_kbps: what the site sends for retrieval, on average."""

    def __init__(self, kbps: float) -> None:
        self.rate = kbps * 1000 / 8  # bytes per second
        self.next_free = time.monotonic()

    async def wait(self, size: int) -> None:
        now = time.monotonic()
        start = max(now, self.next_free)
        self.next_free = start + size / self.rate
        if start > now:
            await asyncio.sleep(start - now)


class Serving:
    def __init__(
        self, site: str, index: SegmentIndex, layout: Layout, audit: AuditLog, kbps: float
    ) -> None:
        self.site = site
        self.index = index
        self.layout = layout
        self.audit = audit
        self.pacer = Pacer(kbps)
        self.jobs: dict[int, Job] = {}

    async def retrieve(self, message: Msg) -> None:
        try:
            job = json.loads(message.data)
            record = AuditRecord(
                f"{job['requested_by']}@hub",
                "investigator",
                "retrieval.serve",
                "ok",
                "hub",
                [job["camera"]],
                int(job["since_us"]),
                int(job["until_us"]),
                str(job["reason"]),
                detail={"case": job["case"], "retrieval": job["job"]},
            )
            # Fails closed: footage the site cannot audit sending is not sent.
            await asyncio.to_thread(self.audit.append, record)
        except (ValueError, KeyError, TypeError) as exc:
            await message.respond(b"", headers={ERROR: f"not a retrieval: {exc}"})
            return
        except AuditError as exc:
            await message.respond(b"", headers={ERROR: f"the site cannot audit it: {exc}"})
            return
        self.jobs[int(job["job"])] = Job(job["camera"], int(job["since_us"]), int(job["until_us"]))
        log.info(
            "a retrieval for the hub", extra={"camera": job["camera"], "retrieval": job["job"]}
        )
        await message.respond(json.dumps({"ok": True}).encode())

    async def chunk(self, message: Msg) -> None:
        try:
            ask: dict[str, Any] = json.loads(message.data)
            data = await asyncio.to_thread(self._read, ask)
        except (ValueError, KeyError, TypeError, LookupError, OSError) as exc:
            await message.respond(b"", headers={ERROR: str(exc)})
            return
        await self.pacer.wait(len(data))
        await message.respond(data)

    def _read(self, ask: dict[str, Any]) -> bytes:
        job = self.jobs.get(int(ask["job"]))
        if job is None:
            raise LookupError("job not announced: announce it again")
        wanted = int(ask["segment"])
        segment = next(
            (s for s in self.index.find(job.camera, job.since_us, job.until_us) if s.id == wanted),
            None,
        )
        if segment is None:
            raise LookupError(f"segment {wanted} is not in the job's camera and range")
        offset, length = int(ask["offset"]), min(int(ask["length"]), CHUNK_MAX)
        with open(self.layout.absolute(segment.path), "rb") as stream:
            stream.seek(offset)
            return stream.read(length)
