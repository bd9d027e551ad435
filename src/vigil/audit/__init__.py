"""The tamper-evident audit trail of who looked at, exported or changed what, and why."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from vigil.audit.keys import load_or_create_signing_key
from vigil.audit.log import AuditEntry, AuditLog, AuditRecord, Checkpoint, read_records
from vigil.audit.verify import VerifyReport, verify
from vigil.config import VigilConfig
from vigil.storage.database import connect, migrate
from vigil.storage.layout import Layout

__all__ = ["AuditEntry", "AuditLog", "AuditRecord", "Checkpoint", "VerifyReport",
           "open_audit_log", "read_records", "signing_key_path", "verify"]  # fmt: skip


def signing_key_path(config: VigilConfig) -> Path:
    return config.audit.signing_key or Layout(config.storage.path).audit_key


def open_audit_log(config: VigilConfig, engine: Engine | None = None) -> AuditLog:
    """The site's audit log, on the given engine or a newly opened and migrated one."""
    if engine is None:
        engine = connect(config.database_url())
        migrate(engine)
    key = load_or_create_signing_key(signing_key_path(config))
    return AuditLog(engine, key, config.audit.checkpoint_every)
