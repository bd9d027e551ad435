"""Check a Vigil export package or audit proof with nothing but Python 3.9+: no Vigil, no
packages.

    python3 verify.py PACKAGE [SITE-PUBLIC-KEY.pem]
    python3 verify.py PROOF.json SITE-PUBLIC-KEY.pem

PACKAGE is an export's directory or its .zip: every segment and the redacted video are checked
against the signed manifest, the segments' hash chain link by link, and the audit records of
who asked and who approved against the site's signed checkpoint. Give the site's public key as
published (`vigil audit public-key`): without it, the key inside the package is used and its
fingerprint printed, to be compared with the published one. PROOF.json comes from `vigil audit
prove SEQ` or `vigil audit consistency OLD NEW`. Exit 0 with what was proven, or 1 with what
is wrong. Vigil writes this file with its helpers (Ed25519 after RFC 8032, the Merkle tree
after RFC 6962, the segment chain) embedded, so an overseer can read all of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import IO, Any

from vigil import hashchain
from vigil.audit import ed25519, merkle

# DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410) before the 32 key bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
FORMAT = "vigil-export-v1"
SIGNED_PREFIX = b"vigil-export-manifest-v1\n"  # what the manifest's signature covers, before it
MANIFEST, SIGNATURE, KEY, DERIVATIVE = (
    "manifest.json",
    "manifest.sig",
    "site-key.pem",
    "redacted.mp4",
)
CHUNK = 1 << 20


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


class Package:
    """An export package as a directory or a .zip: its file names, and each file's bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self.names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        else:
            self.zip = zipfile.ZipFile(path)
            prefix = _zip_prefix(self.zip.namelist())
            self.prefix = prefix
            self.names = sorted(
                n[len(prefix) :] for n in self.zip.namelist() if not n.endswith("/")
            )

    def open(self, name: str) -> IO[bytes]:
        if name not in self.names:
            raise Refused(f"{name} is missing from the package")
        if self.zip is not None:
            return self.zip.open(self.prefix + name)
        return open(self.path / name, "rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as file:
            return file.read()

    def digest(self, name: str) -> tuple[int, str]:
        """(size, SHA-256) of a file in the package."""
        digest, size = hashlib.sha256(), 0
        with self.open(name) as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return size, digest.hexdigest()


def _zip_prefix(names: list[str]) -> str:
    """The folder a zipped package sits in ("export-7/"), or "" at the zip's root."""
    for name in names:
        if name.endswith(MANIFEST):
            return name[: -len(MANIFEST)]
    raise Refused(f"the zip holds no {MANIFEST}: it is not a Vigil export package")


def check_package(package: Package, given_key: bytes | None) -> str:
    """A summary of a package that verifies; Refused naming what is wrong otherwise."""
    body = package.read(MANIFEST)
    try:
        manifest = json.loads(body)
        inside = public_key(package.read(KEY).decode())
        signature = bytes.fromhex(package.read(SIGNATURE).decode().strip())
        if manifest.get("format") != FORMAT:
            raise Refused(f"the manifest's format is {manifest.get('format')!r}, not {FORMAT}")
        key = inside if given_key is None else given_key
        if given_key is not None and key_id(given_key) != manifest["key"]["key_id"]:
            raise Refused(
                f"wrong key: the package is signed by key {manifest['key']['key_id']}, not by "
                f"the key given ({key_id(given_key)})"
            )
        if not ed25519.verify(key, SIGNED_PREFIX + body, signature):
            raise Refused("the manifest's signature does not verify: the manifest was changed")
        if key_id(key) != manifest["key"]["key_id"]:
            raise Refused("the package's key is not the one its manifest names")
        lines = _check_segments(package, manifest)
        lines += _check_derivative(package, manifest)
        lines += _check_requests(manifest, key)
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(f"not a Vigil export manifest ({exc!r} is wrong or missing)") from None
    how = (
        "the key given"
        if given_key is not None
        else "the key inside the package (compare its fingerprint with the site's published key)"
    )
    head = [
        f"VERIFIED export {manifest['export']} of camera {manifest['camera']['name']} "
        f"(site {manifest['site'] or '-'}), {manifest['since']} to {manifest['until']}",
        f"case {manifest['case']}; asked by {manifest['requested_by']} on "
        f"{manifest['requested']}, because: {manifest['reason']}",
        f"approved by {manifest['approved_by'] or '- (redacted exports need no approval)'}",
        f"signed by key {key_id(key)}, checked with {how}",
    ]
    return "\n".join(head + lines)


def _check_segments(package: Package, manifest: dict[str, Any]) -> list[str]:
    """The originals: in an unredacted package, every listed file with the bytes hashed at
    ingest and none added or removed; in a redacted one, none at all (they stay at the site,
    named by hash). Either way, each links into the camera's segment chain."""
    entries = manifest["segments"]
    present = {n for n in package.names if n.startswith("segments/")}
    included = manifest["originals_included"]
    if included == manifest["redacted"]:
        raise Refused("a redacted package carries no originals, an unredacted one carries them")
    if not included and present:
        raise Refused(f"a redacted package holds original footage ({sorted(present)[0]})")
    listed = [entry["file"] for entry in entries] if included else []
    added = sorted(present - set(listed))
    if added:
        raise Refused(f"{added[0]} is in the package but not in its manifest: a segment was added")
    total, previous, chained, unchained, expected_seq = 0, manifest.get("chain_before"), 0, 0, None
    for entry in entries:
        if included:
            if entry["file"] not in present:
                raise Refused(f"{entry['file']} was removed from the package")
            size, sha = package.digest(entry["file"])
            if size != entry["bytes"] or sha != entry["sha256"]:
                raise Refused(
                    f"{entry['file']} was altered: its bytes are not those recorded at ingest"
                )
        total += entry["bytes"]
        if entry.get("chain") is None or previous is None:
            unchained += 1
        elif expected_seq is None or entry["chain_seq"] == expected_seq:
            link = hashchain.link(previous, entry["sha256"], entry["start_us"], entry["end_us"])
            if link != entry["chain"]:
                raise Refused(
                    f"the original of {entry['start']} does not link into the segment chain"
                )
            chained += 1
        previous = entry.get("chain")
        expected_seq = None if entry.get("chain_seq") is None else entry["chain_seq"] + 1
    where = "each as hashed at ingest" if included else "kept at the site, listed by hash"
    lines = [
        f"{len(entries)} original segments, {total} bytes, {where}; {chained} linked in the "
        "camera's hash chain"
    ]
    if unchained:
        lines.append(f"{unchained} segments predate the chain and are checked by hash only")
    gaps = manifest["gaps"]
    lines.append("gaps: " + (", ".join(f"{g['since']} to {g['until']}" for g in gaps) or "none"))
    return lines


def _check_derivative(package: Package, manifest: dict[str, Any]) -> list[str]:
    if not manifest["redacted"]:
        if DERIVATIVE in package.names:
            raise Refused(f"an unredacted package holds a {DERIVATIVE} its manifest does not list")
        return ["UNREDACTED: the originals only, approved by a second account"]
    derivative = manifest["derivative"]
    size, sha = package.digest(derivative["file"])
    if size != derivative["bytes"] or sha != derivative["sha256"]:
        raise Refused(f"{derivative['file']} was altered: its SHA-256 is not the manifest's")
    done = ", ".join(sorted({op["what"] for op in manifest["redaction"] if op["op"] == "fill"}))
    return [f"redacted: {derivative['file']} ({size} bytes) covers with solid fill: {done}"]


def _check_requests(manifest: dict[str, Any], key: bytes) -> list[str]:
    """The audit records of the request (and approval) are the export's, and in a signed
    checkpoint of the site's trail."""
    actions = {}
    lines = []
    for proof in manifest["audit"]:
        lines.append("audit: " + check(proof, key))
        record = proof["record"]
        if record["detail"].get("export") != manifest["export"]:
            raise Refused(f"audit record #{record['seq']} is not about export {manifest['export']}")
        actions[record["action"]] = record["actor"]
    if actions.get("export.request") != manifest["requested_by"]:
        raise Refused("the manifest's requester is not the one in the audit record of the request")
    if not manifest["redacted"]:
        approver = actions.get("export.approve")
        if approver is None or approver != manifest["approved_by"]:
            raise Refused("an unredacted export without the audit record of its approval")
        if approver == manifest["requested_by"]:
            raise Refused("the requester approved their own unredacted export")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    try:
        target = Path(argv[1])
        if target.is_dir() or zipfile.is_zipfile(target):
            key = public_key(Path(argv[2]).read_text()) if len(argv) == 3 else None
            print(check_package(Package(target), key))
            return 0
        if len(argv) != 3:
            print(
                "a proof needs the site's public key: verify.py PROOF.json KEY.pem", file=sys.stderr
            )
            return 2
        document = json.loads(target.read_text())
        key = public_key(Path(argv[2]).read_text())
        print(check(document, key))
    except Refused as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        print(f"cannot read {argv[1]} or the key: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
