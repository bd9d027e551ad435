"""Each camera's segment hash chain: retention's deletions leave erasure records and the chain
still verifies; a segment removed, inserted or altered behind Vigil's back is named; and a
consistent rewrite is caught by the head recorded in the signed audit trail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, insert, select, update
from typer.testing import CliRunner

from support.media import h264_clip
from support.segments import write_segment
from vigil.audit.chains import sign_heads, signed_head, verify_footage
from vigil.audit.cli import audit_app
from vigil.audit.log import AuditLog
from vigil.audit.verify import verify as verify_trail
from vigil.config import parse_config
from vigil.errors import AuditError
from vigil.events.store import EventStore
from vigil.storage.chain import GENESIS, link, verify
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.retention import Erasure, Janitor
from vigil.storage.schema import segment_chain, segment_erasures, segments
from vigil.storage.status import StatusStore
from vigil.timeutil import US, now_us


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = Path(os.environ.get("VIGIL_TEST_CACHE") or tmp_path_factory.mktemp("clips"))
    return h264_clip(cache, width=320, height=180, fps=10, seconds=8)


def _recorded(engine: Engine, tmp_path: Path, clip: Path, count: int = 6) -> Layout:
    layout = Layout(tmp_path / "storage")
    layout.recordings.mkdir(parents=True)
    index = SegmentIndex(engine)
    start = now_us() - 3 * 86_400 * US
    for n in range(count):
        # The first half is three days old, the rest fresh: a 2-day retention erases half.
        at = start + n * 10 * US if n < count // 2 else now_us() - (count - n) * 10 * US
        write_segment(layout, clip, "gate", at, index=index)
    return layout


def test_the_chain_links_every_segment_and_survives_retention(
    engine: Engine, tmp_path: Path, clip: Path
) -> None:
    layout = _recorded(engine, tmp_path, clip)
    found = SegmentIndex(engine).find("gate")
    previous = GENESIS
    for n, segment in enumerate(found, start=1):
        assert segment.chain_seq == n
        assert segment.chain == link(previous, segment.sha256, segment.start_us, segment.end_us)
        previous = segment.chain
    assert verify(engine, "gate").ok
    config = parse_config(
        f"storage: {{path: '{layout.root}'}}\ncameras:\n  gate: {{purpose: testing, "
        "main: 'file:///x.mp4', retention_days: 2}\n"
    )
    recorded: list[Erasure] = []
    audit_down = [True]

    def record(erasure: Erasure) -> None:
        if audit_down[0]:
            audit_down[0] = False
            raise AuditError("the audit trail cannot be written")
        recorded.append(erasure)

    janitor = Janitor(config, SegmentIndex(engine), StatusStore(engine),
                      expire_events=EventStore(engine, layout.snapshots).expire,
                      record_erasures=record)  # fmt: skip
    assert janitor.run_once() == 3
    assert recorded == [], "the audit trail was down: kept for the next pass"
    assert janitor.run_once() == 0
    (erasure,) = recorded
    erased = [s for s in found if s.chain_seq in (1, 2, 3)]
    assert (erasure.camera, erasure.segments, erasure.bytes, erasure.rules) == (
        "gate",
        3,
        sum(s.bytes for s in erased),
        {"older than 2 days"},
    )
    assert (erasure.since_us, erasure.until_us) == (erased[0].start_us, erased[-1].end_us)
    with engine.connect() as connection:
        reasons = connection.execute(select(segment_erasures.c.chain_seq,
                                            segment_erasures.c.reason)).all()  # fmt: skip
    assert [(seq, reason) for seq, reason in reasons] == [
        (n, "older than 2 days") for n in (1, 2, 3)
    ]
    report = verify(engine, "gate")
    assert report.ok, report.problems
    assert (report.segments, report.erased) == (3, 3)


def _tamper_remove(engine: Engine) -> str:
    with engine.begin() as connection:
        connection.execute(delete(segments).where(segments.c.chain_seq == 3))
    return "segment #3..#3 removed without an erasure record"


def _tamper_alter(engine: Engine) -> str:
    with engine.begin() as connection:
        connection.execute(update(segments).where(segments.c.chain_seq == 2)
                           .values(sha256="ab" * 32))  # fmt: skip
    return "segment #2 was altered"


def _tamper_insert(engine: Engine) -> str:
    with engine.begin() as connection:
        row = connection.execute(select(segments).where(segments.c.chain_seq == 4)).one()
        forged = {**row._mapping, "path": row.path + ".forged"}
        del forged["id"]
        connection.execute(insert(segments).values(**forged))
    return "segment #4 appears twice"


def _tamper_cut_tail(engine: Engine) -> str:
    with engine.begin() as connection:
        connection.execute(delete(segments).where(segments.c.chain_seq == 6))
    return "the chain ends at #5 but its head says #6"


@pytest.mark.parametrize("tamper", [_tamper_remove, _tamper_alter, _tamper_insert,
                                    _tamper_cut_tail])  # fmt: skip
def test_tampering_with_the_index_is_named(
    engine: Engine, tmp_path: Path, clip: Path, tamper: object
) -> None:
    _recorded(engine, tmp_path, clip)
    assert verify(engine, "gate").ok
    says = tamper(engine)  # type: ignore[operator]
    report = verify(engine, "gate")
    assert any(says in p for p in report.problems), report.problems


def test_a_consistent_rewrite_is_caught_by_the_signed_head(
    engine: Engine, tmp_path: Path, clip: Path
) -> None:
    _recorded(engine, tmp_path, clip)
    key = Ed25519PrivateKey.generate()
    log = AuditLog(engine, key, checkpoint_every=100)
    heads = sign_heads(log, engine, {})
    assert signed_head(engine, "gate") == heads["gate"]
    assert sign_heads(log, engine, heads) == heads  # nothing moved: no new record
    assert verify_trail(engine, [key.public_key()]).checkpoints == 1
    # A forger who can write the database swaps segment #2 for another and re-links the
    # chain and its head: the chain itself is consistent again, the signed head is not.
    found = SegmentIndex(engine).find("gate")
    previous = GENESIS
    with engine.begin() as connection:
        for segment in found:
            sha = "cd" * 32 if segment.chain_seq == 2 else segment.sha256
            previous = link(previous, sha, segment.start_us, segment.end_us)
            connection.execute(update(segments).where(segments.c.id == segment.id)
                               .values(sha256=sha, chain=previous))  # fmt: skip
        connection.execute(update(segment_chain).values(head=previous))
    report, signed = verify_footage(engine, "gate")
    assert signed == heads["gate"]
    assert report.problems == [
        "segment #6 no longer has the link signed in the audit trail: the footage up to it "
        "was changed after it was signed"
    ]


def test_cli_verifies_a_cameras_footage(
    engine: Engine, tmp_path: Path, clip: Path, database_url: str
) -> None:
    layout = _recorded(engine, tmp_path, clip, count=3)
    config = tmp_path / "vigil.yaml"
    config.write_text(f"storage: {{path: '{layout.root}'}}\ndatabase: {{url: '{database_url}'}}\n")
    done = CliRunner().invoke(audit_app, ["verify-footage", "gate", "-c", str(config)])
    assert done.exit_code == 0, done.output
    assert done.stdout == ("gate: segment chain ok: 3 segments, 0 erased by retention, not yet "
                           "recorded in the audit trail\n")  # fmt: skip
    _tamper_alter(engine)
    done = CliRunner().invoke(audit_app, ["verify-footage", "gate", "-c", str(config)])
    assert done.exit_code == 1 and "segment #2 was altered" in done.stdout
