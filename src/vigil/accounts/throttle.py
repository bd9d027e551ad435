"""Slowing password guessing down, per account name and per source address.

In memory: the API runs in one process, and a restart forgetting the counts costs an attacker
a restart. After `max_failures` failures within `window_s` an account name is locked for
`lockout_s`; one more failure soon after the lock ends locks it again for twice as long, up to
`max_lockout_s`. A quiet `window_s` after the last failure or lock forgives everything. An
address is treated the same way with `per_address_max`, which catches one source trying many
names.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# One more than the longest user name, so over-long names share a key only with each other
# and a flood of long names cannot fill memory.
_NAME_KEY_LENGTH = 65


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    last: float = 0.0  # the latest failure
    locked_until: float = 0.0
    lockouts: int = 0  # locks since the last quiet period; each doubles the next


class _Limiter:
    def __init__(self, limit: int, window_s: float, lockout_s: float, max_lockout_s: float) -> None:
        self._limit = limit
        self._window_s = window_s
        self._lockout_s = lockout_s
        self._max_lockout_s = max_lockout_s
        self._records: dict[str, _Record] = {}
        self._sweep_at = 1024

    def wait(self, key: str, now: float) -> float:
        record = self._current(key, now)
        return 0.0 if record is None else max(0.0, record.locked_until - now)

    def fail(self, key: str, now: float) -> None:
        record = self._current(key, now)
        if record is None:
            record = self._records[key] = _Record()
            if len(self._records) >= self._sweep_at:
                self._sweep(now)
        if now < record.locked_until:
            return  # a locked name's attempts are refused untried, so they do not count
        while record.failures and record.failures[0] <= now - self._window_s:
            record.failures.popleft()
        record.failures.append(now)
        record.last = now
        if record.lockouts or len(record.failures) >= self._limit:
            doubled = self._lockout_s * 2 ** min(record.lockouts, 32)
            record.locked_until = now + min(doubled, self._max_lockout_s)
            record.lockouts += 1
            record.failures.clear()

    def clear(self, key: str) -> None:
        self._records.pop(key, None)

    def _current(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and self._forgiven(record, now):
            del self._records[key]
            return None
        return record

    def _forgiven(self, record: _Record, now: float) -> bool:
        return now >= max(record.last, record.locked_until) + self._window_s

    def _sweep(self, now: float) -> None:
        self._records = {k: r for k, r in self._records.items() if not self._forgiven(r, now)}
        self._sweep_at = max(1024, 2 * len(self._records))


class LoginThrottle:
    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        lockout_s: float = 60.0,
        max_lockout_s: float = 3600.0,
        per_address_max: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._names = _Limiter(max_failures, window_s, lockout_s, max_lockout_s)
        self._addresses = _Limiter(per_address_max, window_s, lockout_s, max_lockout_s)
        self._clock = clock

    def check(self, name: str, address: str | None) -> float:
        """Seconds until a login for this name from this address may be tried; 0: now."""
        now = self._clock()
        wait = self._names.wait(_name_key(name), now)
        if address:
            wait = max(wait, self._addresses.wait(address, now))
        return wait

    def failure(self, name: str, address: str | None) -> None:
        now = self._clock()
        self._names.fail(_name_key(name), now)
        if address:
            self._addresses.fail(address, now)

    def success(self, name: str, address: str | None) -> None:
        """Forgive the account's failures. Not the address's: otherwise an attacker could
        wipe their address's count by logging in to an account of their own now and then."""
        self._names.clear(_name_key(name))


def _name_key(name: str) -> str:
    # The store finds accounts case-insensitively, so "Admin" and "admin" share one count.
    return name.strip().lower()[:_NAME_KEY_LENGTH]
