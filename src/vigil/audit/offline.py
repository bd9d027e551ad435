"""Check a Vigil audit proof with nothing but Python 3.9+: no Vigil, no packages.

    python3 verify.py PROOF.json SITE-PUBLIC-KEY.pem

PROOF.json comes from `vigil audit prove SEQ` (a record is in a signed checkpoint) or
`vigil audit consistency OLD NEW` (a later checkpoint extends an earlier one); the public key
is the site's, as `vigil audit public-key` printed it. Exit 0 with what was proven, or 1 with
what is wrong. `vigil audit verifier` writes this file with its two helpers (Ed25519 after
RFC 8032, the Merkle tree after RFC 6962) embedded, so an overseer can read all of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from vigil.audit import ed25519, merkle

# DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410) before the 32 key bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class Refused(Exception):
    """The proof does not hold; the message says why."""


def public_key(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    der = base64.b64decode(body)
    if len(der) != 44 or not der.startswith(SPKI_PREFIX):
        raise Refused("the key file is not an Ed25519 public key in PEM")
    return der[len(SPKI_PREFIX) :]


def key_id(raw: bytes) -> str:
    """As Vigil names keys: the first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(raw).hexdigest()[:16]


def record_hash(record: dict[str, Any]) -> str:
    fields = {k: v for k, v in record.items() if k != "hash"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def checked_checkpoint(checkpoint: dict[str, Any], key: bytes) -> bytes:
    """The checkpoint's Merkle root, once its signature by `key` is checked."""
    if checkpoint.get("root") is None:
        raise Refused(f"checkpoint #{checkpoint['size']} has no Merkle root: it proves nothing")
    if checkpoint["key_id"] != key_id(key):
        raise Refused(
            f"checkpoint #{checkpoint['size']} is signed by key {checkpoint['key_id']}, not by "
            f"the key given ({key_id(key)})"
        )
    message = "vigil-audit-checkpoint-v2\n{size}\n{head_hash}\n{root}\n{at_us}".format(**checkpoint)
    if not ed25519.verify(key, message.encode(), bytes.fromhex(checkpoint["signature"])):
        raise Refused(f"checkpoint #{checkpoint['size']} has an invalid signature")
    return bytes.fromhex(checkpoint["root"])


def check(document: dict[str, Any], key: bytes) -> str:
    try:
        proof = [bytes.fromhex(node) for node in document["proof"]]
        if document["type"] == "inclusion":
            record, checkpoint = document["record"], document["checkpoint"]
            root = checked_checkpoint(checkpoint, key)
            if record_hash(record) != record["hash"]:
                raise Refused(f"record #{record['seq']} was altered: it does not match its hash")
            if document["index"] != record["seq"] - 1:
                raise Refused(f"the proof is for leaf {document['index']}, not #{record['seq']}")
            leaf = merkle.leaf_hash(bytes.fromhex(record["hash"]))
            merkle.verify_inclusion(record["seq"] - 1, checkpoint["size"], leaf, proof, root)
            return (
                f"record #{record['seq']} ({record['action']} by {record['actor']}, reason: "
                f"{record['reason'] or '-'}) is in checkpoint #{checkpoint['size']}"
            )
        if document["type"] == "consistency":
            old, new = document["old"], document["new"]
            old_root, new_root = checked_checkpoint(old, key), checked_checkpoint(new, key)
            merkle.verify_consistency(old["size"], new["size"], old_root, new_root, proof)
            return f"checkpoint #{new['size']} extends checkpoint #{old['size']} unchanged"
    except merkle.ProofError as exc:
        raise Refused(f"proof refused: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(f"not a Vigil audit proof ({exc!r} is wrong or missing)") from None
    raise Refused(f"unknown proof type {document.get('type')!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        document = json.loads(Path(argv[1]).read_text())
        key = public_key(Path(argv[2]).read_text())
        print(check(document, key))
    except Refused as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"cannot read the proof or the key: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
