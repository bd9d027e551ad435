"""The offline verifier an overseer runs with nothing but Python: its Ed25519 against RFC 8032's
test vectors and the `cryptography` package, and the whole file, run in an isolated
interpreter, on real proofs from a real trail, honest and tampered."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from typer.testing import CliRunner

from vigil.audit import proofs
from vigil.audit.cli import audit_app
from vigil.audit.ed25519 import verify
from vigil.audit.keys import public_key_pem
from vigil.audit.log import AuditLog, AuditRecord
from vigil.audit.verifier import source

# RFC 8032 section 7.1, TEST 1 (the empty message) and TEST 2 (one byte, 0x72).
VECTORS = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
     "cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d"
     "0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "message", "signature"), VECTORS)
def test_rfc_8032_vectors(key: str, message: str, signature: str) -> None:
    raw_key, data, sig = bytes.fromhex(key), bytes.fromhex(message), bytes.fromhex(signature)
    assert verify(raw_key, data, sig)
    assert not verify(raw_key, data + b"x", sig)
    assert not verify(raw_key, data, sig[:-1] + bytes([sig[-1] ^ 1]))
    # S + L is the same point arithmetic but not canonical: RFC 8032 refuses it.
    s = int.from_bytes(sig[32:], "little") + 2**252 + 27742317777372353535851937790883648493
    assert not verify(raw_key, data, sig[:32] + s.to_bytes(32, "little"))


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=200), st.binary(min_size=1, max_size=200))
def test_agrees_with_the_cryptography_package(message: bytes, other: bytes) -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    signature = key.sign(message)
    assert verify(raw, message, signature)
    assert verify(raw, other, signature) == (other == message)
    assert not verify(Ed25519PrivateKey.generate().public_key().public_bytes_raw(), message,
                      signature)  # fmt: skip


def test_the_file_is_python_3_9() -> None:
    ast.parse(source(), feature_version=(3, 9))


def _run(script: Path, *args: Path) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages, no environment, no current directory: only the standard library.
    return subprocess.run([sys.executable, "-I", "-S", str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_an_overseer_checks_real_proofs_with_python_alone(engine: Engine, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    log = AuditLog(engine, key, checkpoint_every=5)
    for n in range(1, 24):
        log.append(AuditRecord(f"officer{n}", "investigator", "playback", "ok", "test",
                               ["gate"], reason=f"CASE-1: look {n}"))  # fmt: skip
    site = tmp_path / "site.pem"
    site.write_bytes(public_key_pem(key))
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    script = tmp_path / "verify.py"
    done = CliRunner().invoke(audit_app, ["verifier", str(script)])
    assert done.exit_code == 0, done.output

    inclusion = tmp_path / "inclusion.json"
    inclusion.write_text(json.dumps(proofs.inclusion(engine, 7)))
    checked = _run(script, inclusion, site)
    assert (checked.returncode, checked.stdout) == (
        0, "record #7 (playback by officer7, reason: CASE-1: look 7) is in checkpoint #10\n"
    ), checked.stderr  # fmt: skip
    consistency = tmp_path / "consistency.json"
    consistency.write_text(json.dumps(proofs.consistency(engine, 5, 20)))
    assert (
        _run(script, consistency, site).stdout == "checkpoint #20 extends checkpoint #5 unchanged\n"
    )

    refused = _run(script, inclusion, stranger)
    assert refused.returncode == 1 and "NOT VERIFIED" in refused.stdout
    document = json.loads(inclusion.read_text())
    for tampered, says in (
        ({**document, "record": {**document["record"], "reason": "nothing"}}, "was altered"),
        ({**document, "proof": ["00" * 32, *document["proof"][1:]]}, "proof refused"),
        ({**document, "checkpoint": {**document["checkpoint"], "size": 11}}, "invalid signature"),
    ):
        inclusion.write_text(json.dumps(tampered))
        result = _run(script, inclusion, site)
        assert result.returncode == 1 and says in result.stdout, result.stdout
