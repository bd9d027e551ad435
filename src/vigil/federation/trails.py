"""The hub's check of a site's audit trail, from the records and signed checkpoints the site
sent: the same verification an overseer runs at the site, with the site's public key."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from vigil.audit.log import AuditEntry, Checkpoint
from vigil.audit.verify import VerifyReport, verify_chain
from vigil.storage.hub import HubStore


def verify_site(store: HubStore, site: str) -> VerifyReport:
    records, signed = store.audit_trail(site)
    keys: dict[str, Ed25519PublicKey] = {}
    for _, pem in signed:
        key = load_pem_public_key(pem.encode())
        if isinstance(key, Ed25519PublicKey):
            keys[pem] = key
    checkpoints = [Checkpoint(**checkpoint) for checkpoint, _ in signed]
    return verify_chain((AuditEntry.from_row(r) for r in records), checkpoints, list(keys.values()))
