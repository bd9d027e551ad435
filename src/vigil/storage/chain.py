"""Each camera's segments as a hash chain, so a deleted, inserted or altered segment within
retention is detectable.

Segment n of a camera (n counts the camera's indexed segments from 1, in the order they were
indexed) carries chain_n = SHA-256(chain_{n-1} ‖ its SHA-256 ‖ start_us ‖ end_us), the times as
8-byte big-endian integers and chain_0 = 32 zero bytes. The link is computed in the transaction
that indexes the segment, with the camera's head (`segment_chain`), so a row never exists
without its link. A segment that retention deletes leaves a `segment_erasures` row holding
its place, hash and link, and the reason; the chain still verifies across it. The heads are
put into the audit trail (action `segments.chain`), whose signed checkpoints then commit to
every camera's footage as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select, union_all, update

from vigil.hashchain import GENESIS, link
from vigil.storage.schema import segment_chain, segment_erasures, segments


def extend(
    connection: Connection, camera: str, sha256: str, start_us: int, end_us: int
) -> tuple[int, str]:
    """(place, link) of the camera's next segment; moves the head in the caller's transaction."""
    row = connection.execute(
        select(segment_chain.c.seq, segment_chain.c.head).where(segment_chain.c.camera == camera)
    ).first()
    seq, head = (row.seq, row.head) if row else (0, GENESIS)
    chained = link(head, sha256, start_us, end_us)
    if row is None:
        connection.execute(insert(segment_chain).values(camera=camera, seq=1, head=chained))
    else:
        connection.execute(
            update(segment_chain).where(segment_chain.c.camera == camera)
            .values(seq=seq + 1, head=chained)
        )  # fmt: skip
    return seq + 1, chained


def record_erasures(connection: Connection, ids: list[int], reason: str, at_us: int) -> None:
    """Keep the chained segments' places before their rows go (same transaction)."""
    rows = connection.execute(
        select(segments.c.camera, segments.c.chain_seq, segments.c.start_us, segments.c.end_us,
               segments.c.bytes, segments.c.sha256, segments.c.chain)
        .where(segments.c.id.in_(ids), segments.c.chain_seq.is_not(None))
    ).all()  # fmt: skip
    if rows:
        connection.execute(
            insert(segment_erasures),
            [{**row._mapping, "reason": reason, "erased_us": at_us} for row in rows],
        )


def link_before(engine: Engine, camera: str, seq: int) -> str:
    """The link a camera's segment #seq extends: that of #seq-1, stored or erased."""
    if seq <= 1:
        return GENESIS
    stored = select(segments.c.chain).where(
        segments.c.camera == camera, segments.c.chain_seq == seq - 1
    )
    erased = select(segment_erasures.c.chain).where(
        segment_erasures.c.camera == camera, segment_erasures.c.chain_seq == seq - 1
    )
    with engine.connect() as connection:
        found = connection.execute(union_all(stored, erased)).first()
    return GENESIS if found is None else str(found[0])


def heads(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(select(segment_chain)).all()
    return {row.camera: (row.seq, row.head) for row in rows}


@dataclass
class ChainReport:
    camera: str
    segments: int = 0
    erased: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, camera: str, signed: tuple[int, str] | None = None) -> ChainReport:
    """Walk the camera's chain: stored and erased segments, place by place, against the head
    (and against `signed`, a head an overseer holds from the audit trail)."""
    report = ChainReport(camera)
    columns = ("chain_seq", "sha256", "start_us", "end_us", "chain")
    stored = select(*(segments.c[name] for name in columns)).where(
        segments.c.camera == camera, segments.c.chain_seq.is_not(None)
    )
    erased = select(*(segment_erasures.c[name] for name in columns)).where(
        segment_erasures.c.camera == camera
    )
    walk = union_all(stored, erased).order_by("chain_seq")
    with engine.connect() as connection:
        rows = connection.execute(walk).all()
        erased_count = len(connection.execute(erased).all())
        head = connection.execute(
            select(segment_chain.c.seq, segment_chain.c.head)
            .where(segment_chain.c.camera == camera)
        ).first()  # fmt: skip
    report.erased = erased_count
    report.segments = len(rows) - erased_count
    expected, previous = 1, GENESIS
    for row in rows:
        if row.chain_seq != expected:
            if row.chain_seq < expected:
                report.problems.append(f"segment #{row.chain_seq} appears twice: one was inserted")
            else:
                report.problems.append(
                    f"segment #{expected}..#{row.chain_seq - 1} removed without an erasure record"
                )
        elif link(previous, row.sha256, row.start_us, row.end_us) != row.chain:
            report.problems.append(
                f"segment #{row.chain_seq} was altered: its hash or times no longer make its link"
            )
        expected, previous = row.chain_seq + 1, row.chain
    if head is None:
        if rows:
            report.problems.append("the chain's head is missing")
        return report
    if head.seq != expected - 1 or head.head != previous:
        report.problems.append(
            f"the chain ends at #{expected - 1} but its head says #{head.seq}: the newest "
            "segments were removed or the head rewritten"
        )
    if signed is not None:
        seq, value = signed
        places = {row.chain_seq: row.chain for row in rows}
        if places.get(seq) != value:
            report.problems.append(
                f"segment #{seq} no longer has the link signed in the audit trail: the footage "
                "up to it was changed after it was signed"
            )
    return report
