"""The site's Ed25519 key that signs audit checkpoints, and its public half for overseers."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from vigil.errors import AuditError


def key_id(public_key: Ed25519PublicKey) -> str:
    """Names the key in each checkpoint, so a verifier holding several keys picks the right one."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the public key ({exc.strerror})") from None
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(
            f"{path}: not an Ed25519 public key in PEM; get it with `vigil audit public-key`"
        )
    return key


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The key at path; on first use a new one, written so that a crash or a second process
    starting at the same moment can never leave a torn key or two different keys."""
    if not path.exists():
        _create(path, Ed25519PrivateKey.generate())
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise AuditError(
            f"{path}: cannot read the audit signing key ({exc.strerror}); "
            "give Vigil's user read access to it"
        ) from None
    except (TypeError, ValueError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(
            f"{path}: not an unencrypted Ed25519 private key in PEM; restore it from backup, or "
            "move it away to create a new one (overseers then need the new public key)"
        )
    return key


def _create(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-")  # mode 0600
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
                file.flush()
                os.fsync(file.fileno())
            # A hard link is an atomic rename that refuses to replace: if another process made
            # the key meanwhile, its key stays the site's key and this one is dropped.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise AuditError(
            f"{path}: cannot create the audit signing key ({exc.strerror}); make "
            f"{path.parent} writable, or set audit.signing_key to a writable path"
        ) from None
