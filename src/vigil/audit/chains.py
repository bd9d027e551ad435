"""Every camera's segment chain head, put into the audit trail so its signed checkpoints cover
the footage too (see vigil.storage.chain)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from vigil.audit.log import AuditLog, AuditRecord
from vigil.storage import chain
from vigil.storage.chain import ChainReport
from vigil.storage.schema import audit_records

ACTION = "segments.chain"

Heads = dict[str, tuple[int, str]]


def sign_heads(log: AuditLog, engine: Engine, already: Heads) -> Heads:
    """Append one record of the heads that moved since `already`, and sign the trail's head
    now; returns the heads so recorded. Raises AuditError when it cannot be written."""
    current = chain.heads(engine)
    moved = {c: h for c, h in current.items() if already.get(c) != h}
    if not moved:
        return already
    detail = {"heads": {c: {"seq": seq, "head": head} for c, (seq, head) in moved.items()}}
    log.append(AuditRecord("vigil", "system", ACTION, "ok", "vigil", sorted(moved), detail=detail))
    log.checkpoint()
    return current


def signed_head(engine: Engine, camera: str) -> tuple[int, str] | None:
    """The camera's head as last recorded in the audit trail."""
    query = (
        select(audit_records.c.detail, audit_records.c.cameras)
        .where(audit_records.c.action == ACTION)
        .order_by(audit_records.c.seq.desc())
    )
    with engine.connect() as connection:
        for detail, cameras in connection.execute(query):
            if camera in (json.loads(cameras) if isinstance(cameras, str) else cameras):
                heads = (json.loads(detail) if isinstance(detail, str) else detail)["heads"]
                return int(heads[camera]["seq"]), str(heads[camera]["head"])
    return None


def verify_footage(engine: Engine, camera: str) -> tuple[ChainReport, tuple[int, str] | None]:
    signed = signed_head(engine, camera)
    return chain.verify(engine, camera, signed), signed
