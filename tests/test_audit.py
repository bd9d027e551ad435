"""The audit trail: appending, verifying, catching tampering, failing closed, and its CLI."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from vigil.audit import open_audit_log, signing_key_path
from vigil.audit.cli import audit_app
from vigil.audit.keys import key_id, load_or_create_signing_key, load_public_key, public_key_pem
from vigil.audit.log import (
    GENESIS,
    AuditEntry,
    AuditLog,
    AuditRecord,
    Checkpoint,
    checkpoint_message,
    read_checkpoints,
    read_records,
)
from vigil.audit.merkle import Frontier, leaf_hash
from vigil.audit.verify import verify
from vigil.config import load_config
from vigil.errors import AuditError
from vigil.storage.database import connect, migrate
from vigil.storage.schema import audit_checkpoints, audit_records
from vigil.timeutil import US, to_iso

BASE_US = 1_780_000_000 * US


def _row(seq: int) -> ColumnElement[bool]:
    return audit_records.c.seq == seq


def _record(n: int, action: str = "view_recording") -> AuditRecord:
    # A float, non-ASCII text, None and a nested list: all must hash the same after the database.
    return AuditRecord(
        actor=f"officer{n % 3}",
        role="investigator",
        action=action,
        outcome="allowed",
        source="api",
        cameras=("gate", "yard"),
        since_us=BASE_US - 3600 * US,
        until_us=BASE_US,
        reason=f"case 2026/{n}: théft at the gate",
        detail={"n": n, "share": n / 7, "tags": ["night", None, True]},
        at_us=BASE_US + n * US,
    )


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _trail(engine: Engine, key: Ed25519PrivateKey, count: int = 30) -> list[AuditEntry]:
    log = AuditLog(engine, key, checkpoint_every=10)
    return [log.append(_record(n)) for n in range(1, count + 1)]


def test_trail_round_trips_and_verifies(engine: Engine, key: Ed25519PrivateKey) -> None:
    empty = verify(engine, [key.public_key()])
    assert empty.ok and empty.records == 0
    log = AuditLog(engine, key, checkpoint_every=10)
    log.checkpoint()  # nothing to sign yet
    entries = [log.append(_record(n)) for n in range(1, 36)]
    assert [e.seq for e in entries] == list(range(1, 36))
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(entries))
    assert read_records(engine, limit=100) == entries  # what comes back is exactly what was hashed
    report = verify(engine, [key.public_key()])
    assert report.ok, report.problems
    assert (report.records, report.checkpoints, report.unsigned) == (35, 3, 5)

    log.checkpoint()
    log.checkpoint()  # already signed: no second checkpoint
    assert [c.size for c in read_checkpoints(engine)] == [10, 20, 30, 35]
    report = verify(engine, [key.public_key()])
    assert report.ok and (report.checkpoints, report.unsigned) == (4, 0)


def test_read_filters_and_pages(engine: Engine, key: Ed25519PrivateKey) -> None:
    log = AuditLog(engine, key)
    for n in range(1, 31):
        log.append(_record(n, action="export_clip" if n == 13 else "view_recording"))
    assert [e.seq for e in read_records(engine, actor="officer1")] == list(range(1, 31, 3))
    assert [e.seq for e in read_records(engine, action="export_clip")] == [13]
    window = read_records(engine, since_us=BASE_US + 10 * US, until_us=BASE_US + 20 * US)
    assert [e.seq for e in window] == list(range(10, 20))
    assert [e.seq for e in read_records(engine, limit=7, after_seq=7)] == list(range(8, 15))
    log.append_system("user.add", {"user": "admin"})
    [system] = read_records(engine, actor="vigil")
    assert (system.seq, system.role, system.action, system.detail) == (
        31,
        "system",
        "user.add",
        {"user": "admin"},
    )
    assert verify(engine, [log.public_key]).ok


def _rewrite_from(connection: Connection, entries: list[AuditEntry], start: int) -> dict[int, str]:
    """Change record #start and re-hash it and every later record, as a careful forger would;
    the new hashes by seq."""
    prev_hash, hashes = entries[start - 2].hash, {}
    for entry in entries[start - 1 :]:
        record = replace(entry, reason="nothing happened") if entry.seq == start else entry
        forged = AuditEntry.seal(entry.seq, record, prev_hash)
        connection.execute(update(audit_records).where(_row(entry.seq)).values(forged.as_dict()))
        prev_hash = hashes[entry.seq] = forged.hash
    return hashes


def _renumber(connection: Connection, first: int, last: int, by: int) -> None:
    # One row at a time, in an order that never collides on the primary key.
    order = range(last, first - 1, -1) if by > 0 else range(first, last + 1)
    for seq in order:
        connection.execute(update(audit_records).where(_row(seq)).values(seq=seq + by))


def _swap(connection: Connection, a: int, b: int) -> None:
    connection.execute(update(audit_records).where(_row(a)).values(seq=-1))
    connection.execute(update(audit_records).where(_row(b)).values(seq=a))
    connection.execute(update(audit_records).where(_row(-1)).values(seq=b))


def _alter_reason(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(update(audit_records).where(_row(17)).values(reason="routine patrol"))


def _alter_cameras(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(update(audit_records).where(_row(5)).values(cameras=["gate"]))


def _alter_and_rehash(connection: Connection, entries: list[AuditEntry]) -> None:
    forged = AuditEntry.seal(17, replace(entries[16], outcome="denied"), entries[15].hash)
    connection.execute(update(audit_records).where(_row(17)).values(forged.as_dict()))


def _delete_middle(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(delete(audit_records).where(_row(12)))


def _delete_middle_and_renumber(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(delete(audit_records).where(_row(12)))
    _renumber(connection, 13, 30, -1)


def _delete_last(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(delete(audit_records).where(_row(30)))


def _delete_tail(connection: Connection, _: list[AuditEntry]) -> None:
    connection.execute(delete(audit_records).where(audit_records.c.seq >= 25))


def _reorder(connection: Connection, _: list[AuditEntry]) -> None:
    _swap(connection, 8, 15)


def _reorder_neighbours(connection: Connection, _: list[AuditEntry]) -> None:
    _swap(connection, 8, 9)


def _insert_forged(connection: Connection, entries: list[AuditEntry]) -> None:
    _renumber(connection, 20, 30, +1)
    record = replace(_record(99), actor="nobody", reason="looked at nothing")
    forged = AuditEntry.seal(20, record, entries[18].hash)  # a valid hash, linked to #19
    connection.execute(insert(audit_records).values(forged.as_dict()))


def _insert_copy(connection: Connection, entries: list[AuditEntry]) -> None:
    _renumber(connection, 20, 30, +1)
    copy = replace(entries[19], reason="a made-up visit")  # its hash no longer fits
    connection.execute(insert(audit_records).values(copy.as_dict()))


def _insert_before_start(connection: Connection, _: list[AuditEntry]) -> None:
    forged = AuditEntry.seal(0, _record(0), GENESIS)
    connection.execute(insert(audit_records).values(forged.as_dict()))


def _rewrite(connection: Connection, entries: list[AuditEntry]) -> None:
    _rewrite_from(connection, entries, 15)


def _rewrite_and_alter_checkpoints(connection: Connection, entries: list[AuditEntry]) -> None:
    hashes = _rewrite_from(connection, entries, 15)
    for size in (20, 30):
        query = update(audit_checkpoints).where(audit_checkpoints.c.size == size)
        connection.execute(query.values(head_hash=hashes[size]))


def _tree_of(connection: Connection, size: int) -> Frontier:
    tree = Frontier()
    query = select(audit_records.c.hash).where(audit_records.c.seq <= size)
    for (record_hash,) in connection.execute(query.order_by(audit_records.c.seq)):
        tree.append(leaf_hash(bytes.fromhex(record_hash)))
    return tree


def _rewrite_and_sign_with_own_key(connection: Connection, entries: list[AuditEntry]) -> None:
    hashes = _rewrite_from(connection, entries, 15)
    forger = Ed25519PrivateKey.generate()
    for size in (20, 30):
        connection.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size == size))
        forged = Checkpoint.sign(forger, size, hashes[size], _tree_of(connection, size))
        connection.execute(insert(audit_checkpoints).values(forged.as_dict()))


def _forge_checkpoint_signature(connection: Connection, _: list[AuditEntry]) -> None:
    query = update(audit_checkpoints).where(audit_checkpoints.c.size == 10)
    connection.execute(query.values(signature="ab" * 64))


TAMPERING: list[tuple[Callable[[Connection, list[AuditEntry]], None], int, str]] = [
    (_alter_reason, 17, "altered"),
    (_alter_cameras, 5, "altered"),
    (_alter_and_rehash, 17, "record #17 was changed and re-hashed"),
    (_delete_middle, 12, "record #12 deleted"),
    (_delete_middle_and_renumber, 12, "altered"),
    (_delete_last, 30, "record #30 deleted: checkpoint #30"),
    (_delete_tail, 25, "record #25..#30 deleted"),
    (_reorder, 8, "altered"),
    (_reorder_neighbours, 8, "altered"),
    (_insert_forged, 20, "record #20 was inserted"),
    (_insert_copy, 20, "record #20 was inserted"),
    (_insert_before_start, 0, "record #0 was inserted"),
    (_rewrite, 20, "not the record signed at checkpoint #20"),
    (_rewrite_and_alter_checkpoints, 20, "checkpoint #20 has an invalid signature"),
    (_rewrite_and_sign_with_own_key, 20, "not among the public keys"),
    (_forge_checkpoint_signature, 10, "checkpoint #10 has an invalid signature"),
]


@pytest.mark.parametrize(
    ("tamper", "first_bad", "says"), TAMPERING, ids=[t[0].__name__[1:] for t in TAMPERING]
)
def test_tampering_is_caught_at_the_first_bad_record(
    engine: Engine,
    key: Ed25519PrivateKey,
    tamper: Callable[[Connection, list[AuditEntry]], None],
    first_bad: int,
    says: str,
) -> None:
    entries = _trail(engine, key)
    assert verify(engine, [key.public_key()]).ok
    with engine.begin() as connection:
        tamper(connection, entries)
    report = verify(engine, [key.public_key()])
    assert report.first_problem is not None, "tampering went unnoticed"
    assert report.first_bad_seq == first_bad, report.problems
    assert any(says in p.what for p in report.problems if p.seq == first_bad), report.problems


def test_shutdown_checkpoint_seals_the_tail(engine: Engine, key: Ed25519PrivateKey) -> None:
    log = AuditLog(engine, key, checkpoint_every=10)
    for n in range(1, 26):
        log.append(_record(n))
    log.checkpoint()
    with engine.begin() as connection:
        connection.execute(delete(audit_records).where(_row(25)))
    for public_keys in ([key.public_key()], None):  # caught even without the key at hand
        report = verify(engine, public_keys)
        assert report.first_bad_seq == 25 and report.signatures_checked == bool(public_keys)


def test_concurrent_appenders_form_one_chain(
    database_url: str, engine: Engine, key: Ed25519PrivateKey
) -> None:
    def append_many(worker: int) -> list[int]:
        own_engine = connect(database_url)  # its own connections, as another process has
        try:
            log = AuditLog(own_engine, key, checkpoint_every=7)
            return [log.append(_record(worker * 100 + n)).seq for n in range(50)]
        finally:
            own_engine.dispose()

    with ThreadPoolExecutor(4) as pool:
        seqs = list(pool.map(append_many, range(4)))
    assert sorted(seq for worker in seqs for seq in worker) == list(range(1, 201))
    assert all(worker == sorted(worker) for worker in seqs)
    report = verify(engine, [key.public_key()])
    assert report.ok, report.problems
    assert (report.records, report.checkpoints) == (200, 28)


def _config(tmp_path: Path, database_url: str, checkpoint_every: int = 5) -> Path:
    path = tmp_path / "vigil.yaml"
    storage, url = json.dumps(str(tmp_path / "storage")), json.dumps(database_url)
    path.write_text(
        f"storage:\n  path: {storage}\ndatabase:\n  url: {url}\n"
        f"audit:\n  checkpoint_every: {checkpoint_every}\n"
    )
    return path


APPENDER = """
import sys
from pathlib import Path
from typing import Any
from vigil.audit import AuditRecord, open_audit_log
from vigil.config import load_config
log = open_audit_log(load_config(Path(sys.argv[1])))
for n in range(40):
    log.append(AuditRecord("cli", "admin", "add_user", "allowed", "cli", detail={"n": n}))
"""


def test_processes_share_one_key_and_one_chain(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    config = _config(tmp_path, database_url, checkpoint_every=9)
    # Three processes start at once with no signing key yet: one key must come out of it.
    processes = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(config)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
    site_key = load_or_create_signing_key(signing_key_path(load_config(config)))
    report = verify(engine, [site_key.public_key()])
    assert report.ok, report.problems
    assert (report.records, report.checkpoints) == (120, 13)


def _read_only(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        return create_engine(f"sqlite:///file:{make_url(database_url).database}?mode=ro&uri=true")
    options = {"options": "-c default_transaction_read_only=on"}
    return create_engine(database_url, connect_args=options)


def test_append_fails_closed_when_the_database_cannot_be_written(
    database_url: str, engine: Engine, key: Ed25519PrivateKey
) -> None:
    _trail(engine, key, count=3)
    read_only = _read_only(database_url)
    try:
        with pytest.raises(AuditError, match="access is refused"):
            AuditLog(read_only, key).append(_record(4))
        with pytest.raises(AuditError, match="access is refused"):
            AuditLog(read_only, key).checkpoint()
    finally:
        read_only.dispose()
    assert [e.seq for e in read_records(engine)] == [1, 2, 3]


def test_records_of_the_wrong_shape_are_refused(key: Ed25519PrivateKey) -> None:
    log = AuditLog(create_engine("sqlite://"), key)  # refused before the database is touched
    for bad, field in [
        (replace(_record(1), at_us=1.5), "'at_us'"),
        (replace(_record(1), reason=None, outcome=None), "'outcome'"),
        (replace(_record(1), detail={"share": float("nan")}), "detail"),
        (replace(_record(1), detail={"when": object()}), "detail"),
    ]:
        with pytest.raises(AuditError, match=field):
            log.append(bad)


def test_text_too_long_or_unprintable_is_stored_cut_and_escaped(
    engine: Engine, key: Ed25519PrivateKey
) -> None:
    """A caller's text never makes a record unwritable (that would refuse the access) nor
    writes terminal escapes into an overseer's report; the record says what was cleaned."""
    log = AuditLog(engine, key)
    plain = log.append(_record(1))
    assert "cleaned" not in plain.detail
    sent = replace(_record(2), actor="x" * 500, source="not-an-ip;\x1b[2J", detail={"note": "a\nb"})
    stored = log.append(sent)
    assert len(stored.actor) == 64 and stored.actor.endswith("…")
    assert stored.source == "not-an-ip;\\x1b[2J"
    assert stored.detail["note"] == "a\\nb"
    assert stored.detail["cleaned"] == ["actor", "detail", "source"]
    assert read_records(engine) == [plain, stored]
    assert verify(engine, [key.public_key()]).ok


def test_signing_key_is_made_once_kept_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "storage" / "audit" / "signing.pem"
    key = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert public_key_pem(load_or_create_signing_key(path)) == public_key_pem(key)
    public = tmp_path / "site.pem"
    public.write_bytes(public_key_pem(key))
    identity = key_id(load_public_key(public))
    assert identity == key_id(key.public_key()) and len(identity) == 16
    path.write_text("not a key")
    with pytest.raises(AuditError, match="not an unencrypted Ed25519 private key"):
        load_or_create_signing_key(path)
    with pytest.raises(AuditError, match="not an Ed25519 public key"):
        load_public_key(path)


def _overseer_accepts(lines: list[dict[str, Any]], public_key: Ed25519PublicKey) -> None:
    """Check an export the way an outside overseer would, with nothing of Vigil's code."""
    heads, prev_hash = {}, "0" * 64
    for line in (line for line in lines if line["type"] == "record"):
        hashed = {k: v for k, v in line.items() if k not in ("type", "hash")}
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        assert (line["prev_hash"], line["hash"]) == (prev_hash, digest)
        heads[line["seq"]] = prev_hash = digest
    for line in (line for line in lines if line["type"] == "checkpoint"):
        size, head, root = line["size"], line["head_hash"], line["root"]
        message = f"vigil-audit-checkpoint-v2\n{size}\n{head}\n{root}\n{line['at_us']}"
        public_key.verify(bytes.fromhex(line["signature"]), message.encode())
        assert heads[size] == head
        leaves = [_sha256(b"\x00" + bytes.fromhex(heads[n])) for n in range(1, size + 1)]
        assert _tree_head(leaves).hex() == root


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _tree_head(leaves: list[bytes]) -> bytes:
    """RFC 6962's MTH, as an overseer would write it from the RFC."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _sha256(b"\x01" + _tree_head(leaves[:k]) + _tree_head(leaves[k:]))


def test_cli_verifies_exports_and_names_the_first_bad_record(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    config = _config(tmp_path, database_url)
    log = open_audit_log(load_config(config), engine)
    for n in range(1, 13):
        log.append(_record(n))
    runner = CliRunner()
    done = runner.invoke(audit_app, ["verify", "-c", str(config)])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("audit trail ok: 12 records, 2 signed checkpoints\n")
    assert "the last 2 record(s) are not yet covered" in done.stdout

    done = runner.invoke(audit_app, ["public-key", "-c", str(config)])
    assert done.exit_code == 0 and done.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    site_pem = tmp_path / "site.pem"
    site_pem.write_text(done.stdout)
    public_key = load_pem_public_key(site_pem.read_bytes())
    assert isinstance(public_key, Ed25519PublicKey)

    done = runner.invoke(audit_app, ["export", "-c", str(config)])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["type"], line.get("seq", line.get("size"))) for line in lines] == [
        *(("record", n) for n in range(1, 13)),
        ("checkpoint", 5),
        ("checkpoint", 10),
    ]
    _overseer_accepts(lines, public_key)
    since, until = to_iso(BASE_US + 5 * US), to_iso(BASE_US + 8 * US)
    done = runner.invoke(
        audit_app, ["export", "-c", str(config), "--since", since, "--until", until]
    )
    assert [json.loads(line)["seq"] for line in done.stdout.splitlines()] == [5, 6, 7]

    with engine.begin() as connection:
        connection.execute(update(audit_records).where(_row(7)).values(outcome="denied"))
    done = runner.invoke(audit_app, ["verify", "-c", str(config), "--public-key", str(site_pem)])
    assert done.exit_code == 1
    assert done.stdout.startswith("audit trail broken at record #7: altered")

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    done = runner.invoke(audit_app, ["verify", "-c", str(config), "--public-key", str(stranger)])
    assert done.exit_code == 1 and "not among the public keys" in done.stdout

    (tmp_path / "bad.yaml").write_text("storage: [")
    done = runner.invoke(audit_app, ["verify", "-c", str(tmp_path / "bad.yaml")])
    assert done.exit_code == 2 and "not valid YAML" in done.stderr


def _prove(runner: CliRunner, config: Path, tmp_path: Path, *args: str) -> Path:
    done = runner.invoke(audit_app, [*args, "-c", str(config)])
    assert done.exit_code == 0, done.output
    path = tmp_path / f"{args[0]}-{'-'.join(args[1:])}.json"
    path.write_text(done.stdout)
    return path


def _check(runner: CliRunner, config: Path, proof: Path, *keys: Path) -> tuple[int, str]:
    options = [a for key in keys for a in ("--public-key", str(key))]
    done = runner.invoke(audit_app, ["check-proof", str(proof), "-c", str(config), *options])
    return done.exit_code, done.stdout


def test_inclusion_and_consistency_proofs_check_out_and_tampering_does_not(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    config = _config(tmp_path, database_url)
    log = open_audit_log(load_config(config), engine)
    for n in range(1, 24):
        log.append(_record(n))
    runner = CliRunner()
    site_pem = tmp_path / "site.pem"
    site_pem.write_bytes(public_key_pem(log.public_key))

    proof = _prove(runner, config, tmp_path, "prove", "7")
    document = json.loads(proof.read_text())
    assert document["checkpoint"]["size"] == 10 and len(document["proof"]) == 4
    assert _check(runner, config, proof, site_pem) == (
        0, "record #7 (view_recording by officer1) is in checkpoint #10, signed by key "
        f"{key_id(log.public_key)}\n",
    )  # fmt: skip
    later = _prove(runner, config, tmp_path, "prove", "7", "--checkpoint", "20")
    assert _check(runner, config, later, site_pem)[0] == 0

    altered = dict(document, record={**document["record"], "reason": "nothing to see"})
    proof.write_text(json.dumps(altered))
    assert _check(runner, config, proof, site_pem) == (1, "record #7 was altered: it does not "
                                                          "match its hash\n")  # fmt: skip
    # Another record, honestly hashed, but not the one the tree holds at #7.
    other = json.loads(_prove(runner, config, tmp_path, "prove", "8").read_text())
    proof.write_text(json.dumps(dict(document, record={**other["record"], "seq": 7})))
    assert _check(runner, config, proof, site_pem)[0] == 1
    wrong_path = dict(document, proof=["00" * 32, *document["proof"][1:]])
    proof.write_text(json.dumps(wrong_path))
    code, said = _check(runner, config, proof, site_pem)
    assert code == 1 and said.startswith("proof refused: leaf 6 is not in the tree of 10")
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    proof.write_text(json.dumps(document))
    code, said = _check(runner, config, proof, stranger)
    assert code == 1 and "not among the public keys" in said
    forged_root = dict(document, checkpoint={**document["checkpoint"], "root": "11" * 32})
    proof.write_text(json.dumps(forged_root))
    code, said = _check(runner, config, proof, site_pem)
    assert code == 1 and "invalid signature" in said

    extends = _prove(runner, config, tmp_path, "consistency", "5", "20")
    code, said = _check(runner, config, extends, site_pem)
    assert (code, said) == (0, "checkpoint #20 extends checkpoint #5: records #1..#5 are "
                               "unchanged\n")  # fmt: skip
    # Record #3 rewritten, and the chain after it re-sealed: the next proof the database gives
    # no longer joins the checkpoints the overseer holds.
    entries = read_records(engine)
    with engine.begin() as connection:
        _rewrite_from(connection, entries, 3)
    rewritten = _prove(runner, config, tmp_path, "consistency", "5", "20")
    code, said = _check(runner, config, rewritten, site_pem)
    assert code == 1 and "does not extend" in said
    done = runner.invoke(audit_app, ["consistency", "20", "5", "-c", str(config)])
    assert done.exit_code != 0 and "swap them" in done.output
    done = runner.invoke(audit_app, ["prove", "23", "-c", str(config)])
    assert done.exit_code != 0 and "no signed checkpoint with a Merkle root covers" in done.output
    done = runner.invoke(audit_app, ["checkpoint", "-c", str(config)])
    assert done.exit_code == 0 and done.stdout.startswith("checkpoint #23 root ")


def test_a_trail_signed_before_the_merkle_tree_still_verifies_and_grows_one(
    database_url: str, key: Ed25519PrivateKey
) -> None:
    """Checkpoints made before migration 0006 carry no root and sign the old message."""
    engine = connect(database_url)
    from alembic import command
    from alembic.config import Config

    from vigil.storage.database import MIGRATIONS

    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0005")
    prev = GENESIS
    with engine.begin() as connection:
        for n in range(1, 13):
            entry = AuditEntry.seal(n, _record(n), prev)
            connection.execute(insert(audit_records).values(**entry.as_dict()))
            prev = entry.hash
            if n % 5 == 0:
                at_us = BASE_US + n
                signature = key.sign(checkpoint_message(n, entry.hash, at_us, None)).hex()
                old = {"size": n, "head_hash": entry.hash, "at_us": at_us,
                       "key_id": key_id(key.public_key()), "signature": signature}  # fmt: skip
                connection.execute(insert(audit_checkpoints.c.size.table).values(**old))
    migrate(engine)
    report = verify(engine, [key.public_key()])
    assert report.ok and report.checkpoints == 2, report.problems
    log = AuditLog(engine, key, checkpoint_every=5)
    for n in range(13, 21):
        log.append(_record(n))
    checkpoints = read_checkpoints(engine)
    assert [(c.size, c.root is not None) for c in checkpoints] == [
        (5, False), (10, False), (15, True), (20, True),
    ]  # fmt: skip
    leaves = [leaf_hash(bytes.fromhex(e.hash)) for e in read_records(engine)]
    assert checkpoints[3].root == _tree_head(leaves).hex()
    report = verify(engine, [key.public_key()])
    assert report.ok and report.checkpoints == 4, report.problems
    engine.dispose()
