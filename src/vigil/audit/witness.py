"""The overseer's side of checkpoint witnessing: collect the site's signed checkpoints as they
are made, and check that each new one extends the last one seen (RFC 6962 consistency).

A witness keeps what it saw in its own file, out of the site's reach. Once it has seen a
checkpoint, a site that rewrites any record up to that checkpoint, even re-signing everything
with its own key, can no longer prove the next checkpoint consistent with it: the witness
alone detects the rewrite.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.audit.keys import key_id
from vigil.audit.log import Checkpoint
from vigil.audit.merkle import ProofError, verify_consistency
from vigil.errors import AuditError

Feed = Callable[[int], dict[str, Any]]  # after_size → the site's answer
TIMEOUT_S = 30


class Rewritten(AuditError):
    """The site's trail no longer extends what the witness saw: history was rewritten."""


def fetch_from(url: str, token: str) -> Feed:
    """The feed of a Vigil site at `url` (its console's address), read with a witness token."""

    def fetch(after_size: int) -> dict[str, Any]:
        address = f"{url.rstrip('/')}/api/v1/audit/checkpoints?after_size={after_size}"
        request = urllib.request.Request(address, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return json.loads(answer.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            raise AuditError(
                f"{address}: {exc.code} {exc.reason}; check the witness token"
            ) from None
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise AuditError(f"{address}: cannot read the checkpoints ({exc})") from None

    return fetch


def load(store: Path) -> list[dict[str, Any]]:
    """The checkpoints the witness has accepted, oldest first."""
    if not store.exists():
        return []
    try:
        return [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise AuditError(f"{store}: cannot read the witness's own record ({exc})") from None


def observe(feed: Feed, store: Path, key: Ed25519PublicKey) -> list[dict[str, Any]]:
    """Fetch what is new since the last checkpoint seen, check it, and append what holds to
    `store`; Rewritten (nothing appended) when the site's trail no longer extends it."""
    seen = load(store)
    anchor = seen[-1] if seen else None  # every proof in the answer starts from it
    answer = feed(anchor["size"] if anchor else 0)
    accepted: list[dict[str, Any]] = []
    for found in answer.get("checkpoints", []):
        fields = ("size", "head_hash", "at_us", "key_id", "signature", "root")
        checkpoint = Checkpoint(**{k: found[k] for k in fields})
        _signed(checkpoint, key)
        last = accepted[-1] if accepted else anchor
        if last is not None and checkpoint.size <= last["size"]:
            raise Rewritten(
                f"the site answered checkpoint #{checkpoint.size} after #{last['size']}"
            )
        if anchor is not None:
            try:
                verify_consistency(
                    anchor["size"],
                    checkpoint.size,
                    bytes.fromhex(anchor["root"]),
                    bytes.fromhex(str(checkpoint.root)),
                    [bytes.fromhex(n) for n in found["consistency"]],
                )
            except ProofError as exc:
                raise Rewritten(
                    f"checkpoint #{checkpoint.size} does not extend checkpoint #{anchor['size']} "
                    f"that this witness saw signed at {anchor['at_us']}: records up to "
                    f"#{anchor['size']} were rewritten or removed ({exc})"
                ) from None
        accepted.append(checkpoint.public())
    if accepted:
        with open(store, "a") as file:
            for entry in accepted:
                file.write(json.dumps(entry, sort_keys=True) + "\n")
            file.flush()
            os.fsync(file.fileno())
    return accepted


def _signed(checkpoint: Checkpoint, key: Ed25519PublicKey) -> None:
    if checkpoint.root is None:
        raise AuditError(f"checkpoint #{checkpoint.size} has no Merkle root to witness")
    if checkpoint.key_id != key_id(key):
        raise Rewritten(
            f"checkpoint #{checkpoint.size} is signed by key {checkpoint.key_id}, "
            f"not the site's key {key_id(key)}"
        )
    try:
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        raise Rewritten(f"checkpoint #{checkpoint.size} has an invalid signature") from None
