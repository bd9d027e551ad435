"""The link of a hash chain of segments, in nothing but the standard library: the index
computes it at ingest (storage/chain.py) and the offline verifier checks it in a package.

link_n = SHA-256(link_{n-1} ‖ SHA-256 of segment n ‖ start_us ‖ end_us), the times as 8-byte
big-endian signed integers, and link_0 = 32 zero bytes.
"""

from __future__ import annotations

import hashlib

GENESIS = "0" * 64


def link(previous: str, sha256: str, start_us: int, end_us: int) -> str:
    data = bytes.fromhex(previous) + bytes.fromhex(sha256)
    data += start_us.to_bytes(8, "big", signed=True) + end_us.to_bytes(8, "big", signed=True)
    return hashlib.sha256(data).hexdigest()
