"""Proofs from the audit trail for people who do not hold it: that a record is in a signed
checkpoint (inclusion), and that a later checkpoint extends an earlier one (consistency).

A proof is a JSON document that carries everything needed to check it offline with the site's
public key: the signed checkpoint(s), the record itself for an inclusion, and the hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from vigil.audit.keys import key_id
from vigil.audit.log import AuditEntry, Checkpoint
from vigil.audit.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from vigil.errors import AuditError
from vigil.storage.schema import audit_checkpoints, audit_records


def inclusion(engine: Engine, seq: int, size: int | None = None) -> dict[str, Any]:
    """The proof that record `seq` is in the checkpoint of `size` records (default: the
    first signed checkpoint with a Merkle root that covers it)."""
    checkpoint = _checkpoint(engine, seq, size)
    leaves = _leaves(engine, checkpoint.size)
    with engine.connect() as connection:
        row = connection.execute(select(audit_records).where(audit_records.c.seq == seq)).first()
    assert row is not None  # the checkpoint covers it, so it was read with the leaves
    entry = AuditEntry.from_row(row._mapping)
    return {
        "type": "inclusion",
        "record": entry.as_dict(),
        "index": seq - 1,
        "proof": [node.hex() for node in inclusion_proof(seq - 1, leaves)],
        "checkpoint": checkpoint.public(),
    }


def consistency(engine: Engine, old_size: int, new_size: int) -> dict[str, Any]:
    """The proof that the checkpoint of `new_size` records extends that of `old_size`."""
    if old_size > new_size:
        raise AuditError(f"checkpoint #{old_size} is newer than #{new_size}: swap them")
    old, new = _signed(engine, old_size), _signed(engine, new_size)
    return {
        "type": "consistency",
        "old": old.public(),
        "new": new.public(),
        "proof": [node.hex() for node in consistency_proof(old_size, _leaves(engine, new_size))],
    }


FEED_LIMIT = 100  # checkpoints per answer of the witness feed


def witness_feed(engine: Engine, after_size: int = 0) -> dict[str, Any]:
    """The signed checkpoints after `after_size` records (oldest first, at most FEED_LIMIT),
    each with the consistency proof from the tree of `after_size` records, which a witness
    holds the root of. The proof is made over the trail as it is now: if records up to
    `after_size` were rewritten, it cannot match the root the witness kept."""
    query = (
        select(audit_checkpoints)
        .where(audit_checkpoints.c.size > after_size, audit_checkpoints.c.root.is_not(None))
        .order_by(audit_checkpoints.c.size)
        .limit(FEED_LIMIT)
    )
    with engine.connect() as connection:
        found = [Checkpoint(**row._mapping) for row in connection.execute(query)]
    leaves = _leaves(engine, found[-1].size) if found and after_size else []

    def proof(size: int) -> list[str]:
        return [n.hex() for n in consistency_proof(after_size, leaves[:size])] if after_size else []

    return {
        "after_size": after_size,
        "checkpoints": [{**c.public(), "consistency": proof(c.size)} for c in found],
    }


def check(document: dict[str, Any], public_keys: Sequence[Ed25519PublicKey]) -> str:
    """A one-line account of a valid proof; AuditError saying what is wrong otherwise."""
    keys = {key_id(key): key for key in public_keys}
    try:
        proof = [bytes.fromhex(node) for node in document["proof"]]
        if document["type"] == "inclusion":
            checkpoint = _verified(document["checkpoint"], keys)
            entry = AuditEntry.from_row(document["record"])
            if entry.computed_hash() != entry.hash:
                raise AuditError(f"record #{entry.seq} was altered: it does not match its hash")
            if document["index"] != entry.seq - 1:
                raise AuditError(f"the proof is for leaf {document['index']}, not #{entry.seq}")
            verify_inclusion(
                entry.seq - 1, checkpoint.size, leaf_hash(bytes.fromhex(entry.hash)), proof,
                _root(checkpoint),
            )  # fmt: skip
            return (
                f"record #{entry.seq} ({entry.action} by {entry.actor}) is in checkpoint "
                f"#{checkpoint.size}, signed by key {checkpoint.key_id}"
            )
        if document["type"] == "consistency":
            old = _verified(document["old"], keys)
            new = _verified(document["new"], keys)
            verify_consistency(old.size, new.size, _root(old), _root(new), proof)
            return (
                f"checkpoint #{new.size} extends checkpoint #{old.size}: records #1..#{old.size} "
                "are unchanged"
            )
    except ProofError as exc:
        raise AuditError(f"proof refused: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditError(f"not a Vigil audit proof ({exc!r} is wrong or missing)") from None
    raise AuditError(f"unknown proof type {document.get('type')!r}: inclusion or consistency")


def _root(checkpoint: Checkpoint) -> bytes:
    assert checkpoint.root is not None  # _verified refuses checkpoints without one
    return bytes.fromhex(checkpoint.root)


def _verified(fields: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Checkpoint:
    checkpoint = Checkpoint(**fields)
    if checkpoint.root is None:
        raise AuditError(f"checkpoint #{checkpoint.size} has no Merkle root: it proves nothing")
    key = keys.get(checkpoint.key_id)
    if key is None:
        raise AuditError(
            f"checkpoint #{checkpoint.size} is signed by key {checkpoint.key_id}, which is not "
            "among the public keys given; pass the site's key with --public-key"
        )
    try:
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        raise AuditError(
            f"checkpoint #{checkpoint.size} has an invalid signature: it was forged or altered"
        ) from None
    return checkpoint


def _checkpoint(engine: Engine, seq: int, size: int | None) -> Checkpoint:
    if size is not None:
        checkpoint = _signed(engine, size)
        if seq > size or seq < 1:
            raise AuditError(f"record #{seq} is not among the {size} records of checkpoint #{size}")
        return checkpoint
    query = (
        select(audit_checkpoints)
        .where(audit_checkpoints.c.size >= seq, audit_checkpoints.c.root.is_not(None))
        .order_by(audit_checkpoints.c.size)
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or seq < 1:
        raise AuditError(
            f"no signed checkpoint with a Merkle root covers record #{seq} yet; "
            "`vigil audit checkpoint` signs one now"
        )
    return Checkpoint(**row._mapping)


def _signed(engine: Engine, size: int) -> Checkpoint:
    query = select(audit_checkpoints).where(audit_checkpoints.c.size == size)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or row.root is None:
        raise AuditError(
            f"there is no signed checkpoint with a Merkle root at #{size}; list them with "
            "`vigil audit export`"
        )
    return Checkpoint(**row._mapping)


def _leaves(engine: Engine, size: int) -> list[bytes]:
    query = select(audit_records.c.hash).where(audit_records.c.seq <= size)
    query = query.order_by(audit_records.c.seq)
    with engine.connect() as connection:
        leaves = [leaf_hash(bytes.fromhex(h)) for (h,) in connection.execute(query)]
    if len(leaves) != size:
        raise AuditError(
            f"the trail has {len(leaves)} records up to #{size}: records were deleted; "
            "run `vigil audit verify`"
        )
    return leaves
