"""Checkpoint witnessing: an outside witness collects the signed checkpoints through its
token (which opens nothing else) and detects a trail rewritten before a checkpoint it saw,
even when the site re-signs everything with its own key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from support.console import Console
from vigil.audit import AuditRecord
from vigil.audit.log import AuditEntry
from vigil.audit.witness import Rewritten, load, observe
from vigil.storage.schema import audit_checkpoints, audit_records

pytest_plugins = ["support.console"]


def _feed(console: Console) -> Any:
    headers = {"Authorization": f"Bearer {console.tokens['witness']}"}

    def fetch(after_size: int) -> dict[str, Any]:
        console.client.cookies.clear()
        answer = console.client.get(
            f"/api/v1/audit/checkpoints?after_size={after_size}", headers=headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    return fetch


def _grow(console: Console, records: int) -> None:
    log = console.context.audit_log  # type: ignore[attr-defined]
    for n in range(records):
        log.append(
            AuditRecord(
                "ann", "investigator", "playback", "ok", "test", ["gate"], reason=f"C-1: look {n}"
            )
        )
    log.checkpoint()


def _rewrite(console: Console, seq: int) -> None:
    """What a site holding its own key could do: change record `seq`, re-chain every record
    after it, drop the checkpoints and sign the new head."""
    context: Any = console.context
    with context.engine.begin() as connection:
        rows = connection.execute(
            select(audit_records).where(audit_records.c.seq >= seq).order_by(audit_records.c.seq)
        ).all()
        previous = rows[0].prev_hash
        for row in rows:
            entry = AuditEntry.from_row(row._mapping)
            if entry.seq == seq:
                entry = AuditEntry(**{**entry.as_dict(), "reason": "C-1: nothing to see"})
            sealed = AuditEntry.seal(entry.seq, entry, previous)
            connection.execute(
                update(audit_records)
                .where(audit_records.c.seq == entry.seq)
                .values(hash=sealed.hash, prev_hash=previous, reason=sealed.reason)
            )
            previous = sealed.hash
        connection.execute(delete(audit_checkpoints))
    context.audit_log.checkpoint()


def test_a_witness_detects_a_trail_rewritten_before_what_it_saw(
    console: Console, tmp_path: Path
) -> None:
    key = console.context.audit_log.public_key  # type: ignore[attr-defined]
    store = tmp_path / "witnessed.jsonl"
    _grow(console, 12)
    first = observe(_feed(console), store, key)
    assert first, "the witness saw the signed checkpoints"
    for _ in range(3):  # several checkpoints in one answer, each proven from the last seen
        _grow(console, 7)
    later = observe(_feed(console), store, key)
    assert len(later) == 3 and later[0]["size"] > first[-1]["size"], "consistent extensions"
    seen = load(store)
    assert observe(_feed(console), store, key) == [], "nothing new"

    _rewrite(console, seq=seen[-1]["size"] - 3)
    _grow(console, 3)
    with pytest.raises(Rewritten, match="were rewritten or removed"):
        observe(_feed(console), store, key)
    assert load(store) == seen, "what the witness saw stays as it was"


def test_a_witness_token_reads_checkpoints_and_nothing_else(console: Console) -> None:
    headers = {"Authorization": f"Bearer {console.tokens['witness']}"}
    console.client.cookies.clear()
    assert console.client.get("/api/v1/audit/checkpoints", headers=headers).status_code == 200
    for path in ("/api/v1/audit", "/api/v1/audit/report", "/api/v1/cameras", "/api/v1/cases"):
        assert console.client.get(path, headers=headers).status_code == 403, path
