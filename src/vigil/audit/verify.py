"""Checking the audit trail: every record's hash, every link, every signed checkpoint.

A record whose contents were changed no longer matches its hash; a deleted record leaves a gap
in seq; a reordered or inserted record does not follow the record before it; a chain rewritten
consistently, or cut short at its end, no longer matches the checkpoints signed before; and
the Merkle root a checkpoint signed no longer matches the records before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from vigil.audit.keys import key_id
from vigil.audit.log import GENESIS, AuditEntry, Checkpoint, read_checkpoints, read_records
from vigil.audit.merkle import Frontier, leaf_hash
from vigil.errors import AuditError

MAX_PROBLEMS = 100  # a break early in a long trail can make every later record fail
PAGE = 1000


@dataclass(frozen=True)
class Problem:
    seq: int  # the first record concerned
    what: str


@dataclass
class VerifyReport:
    records: int = 0
    checkpoints: int = 0  # signed checkpoints that verified and match the chain
    signatures_checked: bool = True  # False: no public key given, signatures were not checked
    unsigned: int = 0  # records after the last verified checkpoint, not yet covered by one
    problems: list[Problem] = field(default_factory=list)  # in the order found, at most 100
    omitted: int = 0  # problems beyond those kept
    first_problem: Problem | None = None  # the one at the lowest seq

    @property
    def ok(self) -> bool:
        return self.first_problem is None

    @property
    def first_bad_seq(self) -> int | None:
        return None if self.first_problem is None else self.first_problem.seq

    def add(self, seq: int, what: str) -> None:
        problem = Problem(seq, what)
        if self.first_problem is None or seq < self.first_problem.seq:
            self.first_problem = problem
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.omitted += 1


def verify(engine: Engine, public_keys: Sequence[Ed25519PublicKey] | None) -> VerifyReport:
    """The whole trail in the database. Without public keys, checkpoints are compared with the
    chain but their signatures are not checked."""
    try:
        # Checkpoints first: each is written with its record, so every one read now has its
        # record in the pages read after, however many appends happen meanwhile.
        checkpoints = read_checkpoints(engine)
        return verify_chain(_all_entries(engine), checkpoints, public_keys)
    except (SQLAlchemyError, ValueError) as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise AuditError(f"cannot read the audit trail of {url}: {exc}") from exc


def _all_entries(engine: Engine) -> Iterator[AuditEntry]:
    after = None
    while page := read_records(engine, after_seq=after, limit=PAGE):
        yield from page
        after = page[-1].seq


def verify_chain(
    entries: Iterable[AuditEntry],
    checkpoints: Iterable[Checkpoint],
    public_keys: Sequence[Ed25519PublicKey] | None,
) -> VerifyReport:
    """Entries in seq order from #1, with the checkpoints (any order) that cover them."""
    report = VerifyReport(signatures_checked=public_keys is not None)
    keys = {key_id(key): key for key in public_keys or ()}
    signed: dict[int, Checkpoint] = {}
    for checkpoint in sorted(checkpoints, key=lambda c: c.size):
        trouble = None if public_keys is None else _signature_trouble(checkpoint, keys)
        if trouble:
            report.add(checkpoint.size, trouble)
        else:
            signed[checkpoint.size] = checkpoint
    expected, prev_hash, prev_claim, prev_bad, last_signed = 1, GENESIS, "", False, 0
    tree = Frontier()  # over the records as they are, to compare with each signed root
    for entry in entries:
        report.records += 1
        if entry.seq < expected:  # ordered by seq, so only a seq below 1
            report.add(entry.seq, f"record #{entry.seq} was inserted: the trail starts at #1")
            continue
        troubles = []
        hash_ok = _computed_hash(entry) == entry.hash
        if not hash_ok:
            troubles.append("altered: its contents no longer match its hash")
        if entry.seq > expected:
            gone = f"#{expected}" if entry.seq == expected + 1 else f"#{expected}..#{entry.seq - 1}"
            report.add(expected, f"record {gone} deleted: the trail jumps to #{entry.seq}")
        elif entry.prev_hash != prev_hash:
            before = entry.seq - 1
            # Two records naming the same predecessor: the first of them was slipped in.
            if entry.prev_hash == prev_claim:
                report.add(
                    before,
                    f"record #{before} was inserted: it and record #{entry.seq} both claim to "
                    f"follow {_record(before - 1)}",
                )
            # This record is intact, so the one before changed, hash and all.
            elif hash_ok and not prev_bad:
                report.add(
                    before,
                    f"record #{before} was changed and re-hashed: record #{entry.seq} no "
                    "longer follows it",
                )
            else:
                troubles.append(f"it does not follow record #{before} (prev_hash differs)")
        if tree.size == entry.seq - 1:
            tree.append(leaf_hash(_hash_bytes(entry)))
        checkpoint = signed.get(entry.seq)
        if checkpoint is not None and checkpoint.head_hash != entry.hash:
            troubles.append(
                f"it is not the record signed at checkpoint #{entry.seq}: the trail after "
                f"{_record(last_signed)} was rewritten"
            )
        elif (
            checkpoint is not None
            and checkpoint.root is not None
            and (tree.size != entry.seq or tree.root().hex() != checkpoint.root)
        ):
            troubles.append(
                f"the Merkle root signed at checkpoint #{entry.seq} does not match records "
                f"#1..#{entry.seq}: a record before it was changed, removed or inserted"
            )
        elif checkpoint is not None:
            report.checkpoints += 1
            last_signed = entry.seq
        if troubles:
            report.add(entry.seq, "; ".join(troubles))
        expected, prev_hash, prev_claim = entry.seq + 1, entry.hash, entry.prev_hash
        prev_bad = bool(troubles)
    size = max(signed, default=0)
    if size >= expected:
        gone = f"#{expected}" if size == expected else f"#{expected}..#{size}"
        report.add(
            expected,
            f"record {gone} deleted: checkpoint #{size} was signed over {size} records but the "
            f"trail ends at #{expected - 1}",
        )
    report.unsigned = expected - 1 - last_signed
    return report


def _record(seq: int) -> str:
    return f"record #{seq}" if seq > 0 else "the start of the trail"


def _hash_bytes(entry: AuditEntry) -> bytes:
    """The stored hash as the tree's leaf takes it (a mangled one still makes a leaf)."""
    try:
        return bytes.fromhex(entry.hash)
    except (TypeError, ValueError):
        return str(entry.hash).encode()


def _computed_hash(entry: AuditEntry) -> str | None:
    try:
        return entry.computed_hash()
    except (TypeError, ValueError):  # a column overwritten with something that is not JSON
        return None


def _signature_trouble(checkpoint: Checkpoint, keys: dict[str, Ed25519PublicKey]) -> str | None:
    key = keys.get(checkpoint.key_id)
    if key is None:
        return (
            f"checkpoint #{checkpoint.size} is signed by key {checkpoint.key_id}, which is not "
            "among the public keys given; pass the site's key with --public-key"
        )
    try:
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        return f"checkpoint #{checkpoint.size} has an invalid signature: it was forged or altered"
    return None
