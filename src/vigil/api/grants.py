"""Short-lived grants that let a player fetch the segments of a playlist it was given.

The playlist request is the audited act of access (with its reason); its segment URLs carry a
grant bound to the credential that asked (one session or one bearer token), the camera, that
audit record and exactly the footage it recorded: the audited time range and the segments
indexed when the playlist was made. So a grant opens nothing the audit trail does not show,
cannot be reused by anyone else, for another camera or time, and ends with its session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

GRANT_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Grant:
    """What one playlist opened: segments of its camera overlapping [since_us, until_us] whose
    id is at most `last_segment` (later ones were recorded after the playlist was made)."""

    audit_seq: int
    since_us: int
    until_us: int
    last_segment: int
    expires: int
    unmasked: int = 0  # 1: a mask lift was spent on the playlist, so segments come unmasked

    def body(self) -> str:
        return (
            f"{self.audit_seq}.{self.since_us}.{self.until_us}.{self.last_segment}.{self.expires}"
            f".{self.unmasked}"
        )

    def covers(self, segment_id: int, start_us: int, end_us: int) -> bool:
        return (
            segment_id <= self.last_segment and start_us < self.until_us and end_us > self.since_us
        )


class Grants:
    def __init__(self) -> None:
        # Per process: a restart of the API ends every grant, which only means a new playlist.
        self.key = secrets.token_bytes(32)

    def issue(
        self,
        credential: str,
        camera: str,
        audit_seq: int,
        span: tuple[int, int],
        last_segment: int,
        unmasked: bool = False,
    ) -> str:
        grant = Grant(audit_seq, *span, last_segment, int(time.time()) + GRANT_SECONDS,
                      int(unmasked))  # fmt: skip
        body = grant.body()
        return f"{body}.{self._mac(credential, camera, body)}"

    def check(self, token: str, credential: str, camera: str) -> Grant | None:
        """The grant, or None if it is forged, expired or another credential's."""
        body, _, mac = token.rpartition(".")
        try:
            grant = Grant(*(int(part) for part in body.split(".")))
        except (TypeError, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(credential, camera, body)):
            return None
        return grant if grant.expires >= time.time() else None

    def _mac(self, credential: str, camera: str, body: str) -> str:
        message = f"{credential}\n{camera}\n{body}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()
