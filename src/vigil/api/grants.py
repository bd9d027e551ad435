"""Short-lived grants that let a player fetch the segments of a playlist it was given.

The playlist request is the audited act of access (with its reason); its segment URLs carry a
grant bound to the account, the camera and that audit record, so fetching them needs no reason
of its own but cannot be reused by anyone else or for another camera.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

GRANT_SECONDS = 6 * 3600


class Grants:
    def __init__(self) -> None:
        # Per process: a restart of the API ends every grant, which only means a new playlist.
        self.key = secrets.token_bytes(32)

    def issue(self, user: str, camera: str, audit_seq: int) -> str:
        expires = int(time.time()) + GRANT_SECONDS
        body = f"{audit_seq}.{expires}"
        return f"{body}.{self._mac(user, camera, body)}"

    def check(self, grant: str, user: str, camera: str) -> int | None:
        """The audit record the grant was issued under, or None if it is forged or expired."""
        try:
            seq, expires, mac = grant.split(".")
            valid_until = int(expires)
        except ValueError:
            return None
        body = f"{seq}.{expires}"
        if not hmac.compare_digest(mac, self._mac(user, camera, body)):
            return None
        return int(seq) if valid_until >= time.time() else None

    def _mac(self, user: str, camera: str, body: str) -> str:
        message = f"{user}\n{camera}\n{body}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
