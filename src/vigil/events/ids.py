"""Event ids: UUIDv7 (RFC 9562), time-ordered so ids sort by creation and index well."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None) -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then 74 random bits.

    Ids are generated at the edge and are the bus de-duplication key, so they need no
    coordination: 74 random bits make a clash within one millisecond negligible.
    """
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"uuid7 timestamp {ms} ms is outside the 48-bit range")
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (ms << 80) | (0x7 << 76) | ((random >> 68) & 0xFFF) << 64
    value |= (0b10 << 62) | (random & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
