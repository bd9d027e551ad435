"""Building an export package: the manifest, its signature, the site's public key, the offline
verifier, and either the redacted derivative (the default; the originals stay at the site,
named in the manifest by hash and chain link) or, for an approved unredacted export, the
original segments byte for byte.

A package is built in `.export-N.partial` and renamed to `export-N` once every file in it and
the directory itself are fsynced; only then is the job marked complete. So a crash leaves
either a partial directory (the job resumes: copied segments whose hash matches are kept) or a
whole package, never a half-written package reported as complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from vigil.audit import AuditRecord, proofs, verifier
from vigil.audit.keys import key_id, public_key_pem
from vigil.audit.log import AuditLog
from vigil.config import VigilConfig
from vigil.errors import EvidenceError, VigilError
from vigil.export.names import (
    DERIVATIVE,
    FORMAT,
    KEY,
    MANIFEST,
    SEGMENTS,
    SIGNATURE,
    SIGNED_PREFIX,
    VERIFIER,
    package_name,
    partial_dir,
)
from vigil.export.redaction import Redactor, Source
from vigil.masks import PrivacyMasks
from vigil.oversight import register
from vigil.storage.chain import link_before
from vigil.storage.exports import Export, ExportStore
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.layout import Layout, fsync_dir
from vigil.timeutil import now_us, to_iso

log = logging.getLogger(__name__)

GAP_US = 1_000_000  # a hole between segments longer than this is listed as a gap
CHUNK = 1 << 20


class Interrupted(Exception):
    """Vigil is stopping: the job stays running and resumes at the next start."""


class Cancelled(Exception):
    """Someone cancelled the job while it was being made."""


def remove_partial(layout: Layout, export_id: int) -> None:
    shutil.rmtree(partial_dir(layout.exports, export_id), ignore_errors=True)


def segment_file(number: int, segment: Segment) -> str:
    return f"{SEGMENTS}/{number:05d}-{to_iso(segment.start_us).replace(':', '')}.ts"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def gaps(since_us: int, until_us: int, found: list[Segment]) -> list[dict[str, str | None]]:
    """The parts of [since, until] that no segment covers."""
    holes, at = [], since_us
    for segment in found:
        if segment.start_us - at > GAP_US:
            holes.append({"since": to_iso(at), "until": to_iso(segment.start_us)})
        at = max(at, segment.end_us)
    if until_us - at > GAP_US:
        holes.append({"since": to_iso(at), "until": to_iso(until_us)})
    return holes


class PackageBuilder:
    def __init__(
        self,
        config: VigilConfig,
        audit_log: AuditLog,
        redactor: Callable[[], Redactor],
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.audit_log = audit_log
        self.engine = audit_log.engine
        self.layout = Layout(config.storage.path)
        self.store = ExportStore(self.engine)
        self.index = SegmentIndex(self.engine)
        self.redactor = redactor
        self.stopping = stopping

    def build(self, job: Export) -> Export | None:
        """Make the job's package; the job as it finished (None: cancelled, or Vigil stopped)."""
        final = self.layout.exports / package_name(job.id)
        partial = partial_dir(self.layout.exports, job.id)
        try:
            if not final.exists():
                self._make(job, partial)
                os.replace(partial, final)
                fsync_dir(self.layout.exports)
            manifest = final / MANIFEST
            return self.store.finish(
                job.id,
                self.audit,
                state="complete",
                package=final.name,
                manifest_sha256=sha256_of(manifest),
            )
        except Interrupted:
            log.info("export interrupted; it resumes at the next start", extra={"export": job.id})
            return None
        except Cancelled:
            remove_partial(self.layout, job.id)
            return None
        except (VigilError, OSError) as exc:
            remove_partial(self.layout, job.id)
            error = f"export {job.id} of camera {job.camera!r} failed: {exc}"
            log.error("export failed", extra={"camera": job.camera, "error": str(exc)})
            return self.store.finish(job.id, self.audit, state="failed", error=error)

    def audit(self, connection: Connection, action: str, detail: Mapping[str, Any]) -> int:
        """The exporter's own records (a job complete or failed), in the change's transaction."""
        record = AuditRecord(
            "vigil", "system", action, "ok", "vigil", [detail["camera"]], detail=detail
        )
        return self.audit_log.append(record, connection).seq

    def _make(self, job: Export, partial: Path) -> None:
        found = [
            s for s in self.index.find(job.camera, job.since_us, job.until_us) if s.state == "ok"
        ]
        if not found:
            raise EvidenceError(
                f"camera {job.camera!r} has no footage stored between "
                f"{to_iso(job.since_us)} and {to_iso(job.until_us)}"
            )
        partial.mkdir(parents=True, exist_ok=True, mode=0o700)
        size = sum(s.bytes for s in found)
        entries = [_entry(segment) for segment in found]
        derivative = None
        if job.redacted:
            # The originals stay at the site (held there, if a case needs them kept): the
            # package names each by its hash and chain link, and carries only what was seen.
            self._progress(job, "checking", segments_total=len(found), bytes_total=size)
            for segment in found:
                self._check(self.layout.absolute(segment.path), segment)
            derivative = self._derivative(job, partial, found)
        else:
            (partial / SEGMENTS).mkdir(exist_ok=True, mode=0o700)
            self._progress(job, "copying", segments_total=len(found), bytes_total=size)
            done_bytes = 0
            for number, (segment, entry) in enumerate(zip(found, entries, strict=True), 1):
                entry["file"] = segment_file(number, segment)
                self._copy(self.layout.absolute(segment.path), partial / entry["file"], segment)
                done_bytes += segment.bytes
                self._progress(job, "copying", segments_done=number, bytes_done=done_bytes)
            fsync_dir(partial / SEGMENTS)
        self._seal(job, partial, found, entries, derivative)

    def _check(self, source: Path, segment: Segment) -> None:
        """The stored segment still has the bytes it was indexed with."""
        try:
            intact = sha256_of(source) == segment.sha256
        except FileNotFoundError:
            raise _gone(source) from None
        if not intact:
            raise _altered(source)

    def _copy(self, source: Path, target: Path, segment: Segment) -> None:
        """The segment byte for byte; one already copied by an interrupted run is kept when
        its hash is the one recorded at ingest."""
        if (
            target.exists()
            and target.stat().st_size == segment.bytes
            and (sha256_of(target) == segment.sha256)
        ):
            return
        temporary = target.with_suffix(".part")
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as reading, open(temporary, "wb") as writing:
                while chunk := reading.read(CHUNK):
                    digest.update(chunk)
                    writing.write(chunk)
                writing.flush()
                os.fsync(writing.fileno())
        except FileNotFoundError:
            raise _gone(source) from None
        if digest.hexdigest() != segment.sha256:
            temporary.unlink()
            raise _altered(source)
        os.replace(temporary, target)

    def _derivative(self, job: Export, partial: Path, found: list[Segment]) -> dict[str, Any]:
        target = partial / DERIVATIVE
        redactor = self.redactor()
        if not target.exists():  # an interrupted run's derivative is made again from the start
            temporary = partial / f"{DERIVATIVE}.part"
            sources = [Source(self.layout.absolute(s.path), s.start_us, s.bytes) for s in found]
            made = [0]

            def progress(segments_done: int, size: int) -> None:
                made[0] += size
                self._progress(job, "redacting", segments_done=segments_done, bytes_done=made[0])

            camera = self.config.cameras.get(job.camera)
            masks = PrivacyMasks([] if camera is None or job.unmasked else camera.privacy_masks)
            fps = redactor.run(sources, temporary, self._caption(job), progress, masks)
            operations = redactor.settings.operations(redactor.detector.name, fps)
            if masks:
                mask = {
                    "op": "fill",
                    "what": "the camera's privacy masks",
                    "fill": "solid black",
                    "polygons": masks.polygons,
                }
                operations.insert(0, mask)
            elif job.unmasked:
                operations.insert(0, {"op": "none", "what": "privacy masks lifted for this export"})
            _write_durably(partial / "redaction.json", json.dumps(operations).encode())
            with open(temporary, "rb+") as file:
                os.fsync(file.fileno())
            os.replace(temporary, target)
        operations = json.loads((partial / "redaction.json").read_text())
        return {
            "file": DERIVATIVE,
            "bytes": target.stat().st_size,
            "sha256": sha256_of(target),
            "from": [s.sha256 for s in found],  # the originals, by their ingest hash
            "operations": operations,
        }

    def _caption(self, job: Export) -> str:
        camera = self.config.cameras.get(job.camera)
        site = camera.site if camera is not None and camera.site else "site"
        return f"{site} / {job.camera}"

    def _seal(
        self,
        job: Export,
        partial: Path,
        found: list[Segment],
        entries: list[dict[str, Any]],
        derivative: dict[str, Any] | None,
    ) -> None:
        self._progress(job, "sealing")
        job = self.store.get(job.id) or job
        key: Ed25519PrivateKey = self.audit_log.signing_key
        self.audit_log.checkpoint()  # the request and approval are then in a signed checkpoint
        records = [
            proofs.inclusion(self.engine, seq)
            for seq in (job.request_seq, job.approval_seq)
            if seq is not None
        ]
        camera = self.config.cameras.get(job.camera)
        first_seq = found[0].chain_seq
        manifest = {
            "format": FORMAT,
            "export": job.id,
            "created": to_iso(now_us()),
            "site": camera.site if camera is not None else None,
            "camera": {
                "name": job.camera,
                "register": None if camera is None else register.entry(job.camera, camera),
            },
            "case": job.case_reference,
            "since": to_iso(job.since_us),
            "until": to_iso(job.until_us),
            "requested_by": job.requested_by,
            "requested": to_iso(job.requested_us),
            "reason": job.reason,
            "approved_by": job.approved_by,
            "approved": to_iso(job.approved_us) if job.approved_us else None,
            "redacted": job.redacted,
            "unmasked": job.unmasked,
            "originals_included": not job.redacted,
            "segments": entries,
            "chain_before": None
            if first_seq is None
            else link_before(self.engine, job.camera, first_seq),
            "gaps": gaps(job.since_us, job.until_us, found),
            "redaction": derivative["operations"] if derivative else [],
            "derivative": derivative and {k: v for k, v in derivative.items() if k != "operations"},
            "audit": records,
            "key": {"key_id": key_id(key.public_key()), "file": KEY},
        }
        body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        files = {
            MANIFEST: body,
            SIGNATURE: key.sign(SIGNED_PREFIX + body).hex().encode() + b"\n",
            KEY: public_key_pem(key),
            VERIFIER: verifier.source().encode(),
        }
        for name, data in files.items():
            _write_durably(partial / name, data)
        with contextlib.suppress(FileNotFoundError):
            (partial / "redaction.json").unlink()
        fsync_dir(partial)

    def _progress(self, job: Export, phase: str, **values: Any) -> None:
        if self.stopping():
            raise Interrupted
        if not self.store.progress(job.id, phase=phase, **values):
            raise Cancelled(f"export {job.id} was cancelled")


def _entry(segment: Segment) -> dict[str, Any]:
    """An original segment as the manifest lists it."""
    return {
        "start": to_iso(segment.start_us),
        "end": to_iso(segment.end_us),
        "start_us": segment.start_us,
        "end_us": segment.end_us,
        "bytes": segment.bytes,
        "sha256": segment.sha256,
        "chain_seq": segment.chain_seq,
        "chain": segment.chain,
    }


def _gone(source: Path) -> EvidenceError:
    return EvidenceError(
        f"segment {source} is indexed but its file is gone; run `vigil audit verify-footage` "
        "and export again"
    )


def _altered(source: Path) -> EvidenceError:
    return EvidenceError(
        f"segment {source} no longer matches the SHA-256 recorded when it was indexed; it was "
        "changed on disk, so it is not exported: report it to the auditor"
    )


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
