"""Appending to the audit trail: a hash chain of who did what, signed every N records.

Record n's hash is SHA-256 over the canonical JSON of all its fields, seq and prev_hash (record
n-1's hash) included, so altering, deleting, inserting or reordering a record breaks the chain
there. Every `checkpoint_every` records the head (size, hash) and the Merkle tree head over
records 1..size (merkle.py) are signed with the site's Ed25519 key, so an overseer holding the
public key can also tell a consistently rewritten chain or a cut-off tail (see verify.py), and
one record can be proven part of a signed checkpoint without the others (proofs.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import JSON, Connection, Engine, Integer, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from vigil.audit.clean import clean
from vigil.audit.keys import key_id
from vigil.audit.merkle import Frontier, leaf_hash
from vigil.errors import AuditError
from vigil.storage.schema import audit_checkpoints, audit_records
from vigil.timeutil import now_us

GENESIS = "0" * 64
# Appenders in other threads and processes queue on this lock instead of forking the chain.
# PostgreSQL: an advisory lock needs no privilege beyond connecting, so the trail's table can be
# granted INSERT and SELECT only.
WRITE_LOCK = {
    "sqlite": "BEGIN IMMEDIATE",
    "postgresql": "SELECT pg_advisory_xact_lock(8532464671514255733)",  # b"vigil-au"
}
# A primary-key collision means a writer that skipped the lock took our seq: re-read the head.
ATTEMPTS = 10
T = TypeVar("T")


def canonical_json(value: Any) -> bytes:
    """The bytes that are hashed. Sorted keys and ASCII escapes make them the same whichever
    database the values went through; NaN is refused because it is not JSON."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def checkpoint_message(size: int, head_hash: str, at_us: int, root: str | None) -> bytes:
    """What a checkpoint's signature covers. Checkpoints from before the Merkle tree (root
    None) keep the message they were signed with."""
    if root is None:
        return f"vigil-audit-checkpoint\n{size}\n{head_hash}\n{at_us}".encode()
    return f"vigil-audit-checkpoint-v2\n{size}\n{head_hash}\n{root}\n{at_us}".encode()


@dataclass(frozen=True)
class AuditRecord:
    """One audited action: who (actor, role) did what (action) to which cameras over which
    period, why (reason), through what (source: api, cli, ...) and the verdict (outcome)."""

    actor: str
    role: str
    action: str
    outcome: str
    source: str
    cameras: Sequence[str] = field(default_factory=list)
    since_us: int | None = None
    until_us: int | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at_us: int = field(default_factory=now_us)

    def as_dict(self) -> dict[str, Any]:
        """Every field, named as its column."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, kw_only=True)
class AuditEntry(AuditRecord):
    """A record in its place in the chain."""

    seq: int
    prev_hash: str
    hash: str

    @classmethod
    def seal(cls, seq: int, record: AuditRecord, prev_hash: str) -> AuditEntry:
        fields = {name: getattr(record, name) for name in AuditRecord.__dataclass_fields__}
        unsealed = cls(**fields, seq=seq, prev_hash=prev_hash, hash="")
        return replace(unsealed, hash=unsealed.computed_hash())

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEntry:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def computed_hash(self) -> str:
        hashed = {name: value for name, value in self.as_dict().items() if name != "hash"}
        return hashlib.sha256(canonical_json(hashed)).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at `size` records, signed."""

    size: int
    head_hash: str
    at_us: int
    key_id: str
    signature: str  # hex
    root: str | None = None  # hex Merkle tree head; None: signed before the tree existed
    frontier: list[list[object]] | None = None  # Frontier.as_json(), not signed

    @classmethod
    def sign(cls, key: Ed25519PrivateKey, size: int, head_hash: str, tree: Frontier) -> Checkpoint:
        at_us = now_us()
        root = tree.root().hex()
        signature = key.sign(checkpoint_message(size, head_hash, at_us, root)).hex()
        return cls(size, head_hash, at_us, key_id(key.public_key()), signature, root,
                   tree.as_json())  # fmt: skip

    def message(self) -> bytes:
        return checkpoint_message(self.size, self.head_hash, self.at_us, self.root)

    def public(self) -> dict[str, Any]:
        """What an overseer needs to check it: everything but the frontier."""
        return {k: v for k, v in asdict(self).items() if k != "frontier"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditLog:
    """Appends records; any record that cannot be written raises AuditError, and the caller
    must then refuse the access it was about to allow (fail closed)."""

    def __init__(
        self, engine: Engine, signing_key: Ed25519PrivateKey, checkpoint_every: int = 100
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.engine = engine
        self.signing_key = signing_key
        self.checkpoint_every = checkpoint_every

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def append(self, record: AuditRecord, connection: Connection | None = None) -> AuditEntry:
        """Append the record in its own transaction, or in the caller's `connection` so that
        the change it records and the record commit together or not at all. The caller must
        have written in that transaction already: SQLite then holds the write lock."""
        record = _as_stored(clean(record))

        def write(connection: Connection) -> AuditEntry:
            head = _head(connection)
            entry = AuditEntry.seal(head[0] + 1, record, head[1])
            connection.execute(insert(audit_records).values(**entry.as_dict()))
            if entry.seq % self.checkpoint_every == 0:
                self._sign(connection, entry.seq, entry.hash)
            return entry

        what = f"record {record.action!r} by {record.actor!r}"
        if connection is None:
            return self._transaction(write, what)
        try:
            lock = WRITE_LOCK.get(connection.dialect.name)
            if lock and connection.dialect.name != "sqlite":
                connection.exec_driver_sql(lock)
            return write(connection)
        except SQLAlchemyError as exc:
            raise self._unwritable(what, exc) from exc

    def append_system(self, action: str, detail: Mapping[str, Any]) -> AuditEntry:
        """A record of something Vigil itself did, such as creating the first account."""
        return self.append(AuditRecord("vigil", "system", action, "ok", "vigil", detail=detail))

    def checkpoint(self) -> None:
        """Sign the current head now (at shutdown, say); nothing if it is already signed."""

        def write(connection: Connection) -> None:
            size, head_hash = _head(connection)
            signed = select(audit_checkpoints.c.size).where(audit_checkpoints.c.size == size)
            if size and connection.execute(signed).first() is None:
                self._sign(connection, size, head_hash)

        self._transaction(write, "sign an audit checkpoint")

    def probe(self) -> None:
        """Raise AuditError unless a record could be appended now: one is written and rolled
        back, so locks, triggers and constraints all get their say. For footage paths that
        are covered by an earlier record but must still fail closed."""

        def write(connection: Connection) -> None:
            probe = AuditRecord("vigil", "system", "audit.probe", "ok", "vigil")
            head = _head(connection)
            entry = AuditEntry.seal(head[0] + 1, _as_stored(probe), head[1])
            connection.execute(insert(audit_records).values(**entry.as_dict()))
            connection.rollback()

        self._transaction(write, "check that a record can be appended")

    def _sign(self, connection: Connection, size: int, head_hash: str) -> None:
        tree = _tree(connection, size)
        checkpoint = Checkpoint.sign(self.signing_key, size, head_hash, tree)
        connection.execute(insert(audit_checkpoints).values(**checkpoint.as_dict()))

    def _transaction(self, work: Callable[[Connection], T], what: str) -> T:
        url = self.engine.url.render_as_string(hide_password=True)
        for _ in range(ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    lock = WRITE_LOCK.get(connection.dialect.name)
                    if lock:
                        connection.exec_driver_sql(lock)
                    return work(connection)
            except IntegrityError:
                continue
            except SQLAlchemyError as exc:
                raise self._unwritable(what, exc) from exc
        raise AuditError(
            f"cannot {what} in the audit trail of {url}: its next place was taken {ATTEMPTS} "
            "times over, by a writer that skips the lock or by tampering; the access is "
            "refused; run `vigil audit verify`"
        )

    def _unwritable(self, what: str, exc: SQLAlchemyError) -> AuditError:
        url = self.engine.url.render_as_string(hide_password=True)
        cause = getattr(exc, "orig", None) or exc
        return AuditError(
            f"cannot {what} in the audit trail of {url} ({cause}); the access is refused "
            "until the database is reachable and writable: check it is up, its disk has free "
            "space and Vigil may write to it"
        )


def _head(connection: Connection) -> tuple[int, str]:
    """(seq, hash) of the last record; (0, GENESIS) for an empty trail."""
    query = select(audit_records.c.seq, audit_records.c.hash).order_by(audit_records.c.seq.desc())
    row = connection.execute(query.limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def _tree(connection: Connection, size: int) -> Frontier:
    """The Merkle frontier over records 1..size: the last checkpoint's, extended by the
    records after it (all of them after a migration from a trail without the tree)."""
    last = (
        select(audit_checkpoints.c.size, audit_checkpoints.c.frontier)
        .where(audit_checkpoints.c.size <= size, audit_checkpoints.c.frontier.is_not(None))
        .order_by(audit_checkpoints.c.size.desc())
        .limit(1)
    )
    row = connection.execute(last).first()
    tree = Frontier.from_json(row.size, row.frontier) if row else Frontier()
    hashes = (
        select(audit_records.c.hash)
        .where(audit_records.c.seq > tree.size, audit_records.c.seq <= size)
        .order_by(audit_records.c.seq)
    )
    for (record_hash,) in connection.execute(hashes):
        tree.append(leaf_hash(bytes.fromhex(record_hash)))
    return tree


def _as_stored(record: AuditRecord) -> AuditRecord:
    """The record exactly as the database will give it back, so the hash computed now is the
    hash a verifier recomputes later; AuditError names a field the table cannot hold."""
    for column in audit_records.columns:
        if column.name not in AuditRecord.__dataclass_fields__ or isinstance(column.type, JSON):
            continue
        value = getattr(record, column.name)
        if isinstance(column.type, Integer):
            wanted, fits = "an integer", isinstance(value, int) and not isinstance(value, bool)
        else:
            limit = column.type.length or 2**31  # type: ignore[attr-defined]
            wanted, fits = f"text of at most {limit} characters", isinstance(value, str)
            fits = fits and len(value) <= limit
        if not fits and not (value is None and column.nullable):
            raise AuditError(f"audit record field {column.name!r}: {value!r} is not {wanted}")
    if not all(isinstance(camera, str) for camera in record.cameras):
        raise AuditError(f"audit record cameras {record.cameras!r} must be camera names")
    try:
        detail = json.loads(canonical_json(dict(record.detail)))
    except (TypeError, ValueError) as exc:
        raise AuditError(
            f"audit record detail is not plain JSON ({exc}); use strings, numbers, booleans, "
            "None, lists and dicts with string keys"
        ) from None
    return replace(record, cameras=list(record.cameras), detail=detail)


def read_records(
    engine: Engine,
    since_us: int | None = None,
    until_us: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 1000,
    after_seq: int | None = None,
) -> list[AuditEntry]:
    """Records with since_us <= at_us < until_us, oldest (lowest seq) first; page on with
    after_seq = the last seq of the previous page."""
    query = select(audit_records).order_by(audit_records.c.seq).limit(limit)
    if since_us is not None:
        query = query.where(audit_records.c.at_us >= since_us)
    if until_us is not None:
        query = query.where(audit_records.c.at_us < until_us)
    if actor is not None:
        query = query.where(audit_records.c.actor == actor)
    if action is not None:
        query = query.where(audit_records.c.action == action)
    if after_seq is not None:
        query = query.where(audit_records.c.seq > after_seq)
    with engine.connect() as connection:
        return [AuditEntry.from_row(row._mapping) for row in connection.execute(query)]


def read_checkpoints(
    engine: Engine, since_us: int | None = None, until_us: int | None = None
) -> list[Checkpoint]:
    """Checkpoints signed at since_us <= at_us < until_us, smallest first."""
    query = select(audit_checkpoints).order_by(audit_checkpoints.c.size)
    if since_us is not None:
        query = query.where(audit_checkpoints.c.at_us >= since_us)
    if until_us is not None:
        query = query.where(audit_checkpoints.c.at_us < until_us)
    with engine.connect() as connection:
        return [Checkpoint(**row._mapping) for row in connection.execute(query)]
