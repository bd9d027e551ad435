"""Slowing password guessing down, per account name and per source address.

In memory: the API runs in one process, and a restart forgetting the counts costs an attacker
a restart. After `max_failures` failures within `window_s` an account name is locked for
`lockout_s`; one more failure soon after the lock ends locks it again for twice as long, up to
`max_lockout_s`. A quiet `window_s` after the last failure or lock forgives everything. An
address is treated the same way with `per_address_max`, which catches one source trying many
names.

An attempt is reserved before its password is verified and settled after, so that concurrent
guesses cannot all pass the check while the slow verification of the first is still running:
a name (or address) with as many failures plus attempts in flight as its limit takes no more.
"""

from __future__ import annotations

import threading
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
    pending: int = 0  # reserved attempts not yet settled


class _Limiter:
    def __init__(self, limit: int, window_s: float, lockout_s: float, max_lockout_s: float) -> None:
        self._limit = limit
        self._window_s = window_s
        self._lockout_s = lockout_s
        self._max_lockout_s = max_lockout_s
        self._records: dict[str, _Record] = {}
        self._sweep_at = 1024

    def wait(self, key: str, now: float) -> float:
        """Seconds until the key may try again: a lock, or one second while attempts in flight
        could still reach the limit."""
        locked = self.locked_for(key, now)
        record = self._current(key, now)
        if locked or record is None:
            return locked
        self._forget_old(record, now)
        limit = 1 if record.lockouts else self._limit  # straight after a lock, one more locks
        return 1.0 if len(record.failures) + record.pending >= limit else 0.0

    def locked_for(self, key: str, now: float) -> float:
        record = self._current(key, now)
        return 0.0 if record is None else max(0.0, record.locked_until - now)

    def reserve(self, key: str, now: float) -> None:
        self._record(key, now).pending += 1

    def settle(self, key: str, now: float, failed: bool) -> bool:
        """End a reserved attempt; True when its failure locked the key."""
        record = self._record(key, now)
        record.pending = max(0, record.pending - 1)
        return self.fail(key, now) if failed else False

    def fail(self, key: str, now: float) -> bool:
        """Count a failure; True when it locked the key."""
        record = self._record(key, now)
        if now < record.locked_until:
            return False  # a locked key's attempts are refused untried, so they do not count
        self._forget_old(record, now)
        record.failures.append(now)
        record.last = now
        if record.lockouts or len(record.failures) >= self._limit:
            doubled = self._lockout_s * 2 ** min(record.lockouts, 32)
            record.locked_until = now + min(doubled, self._max_lockout_s)
            record.lockouts += 1
            record.failures.clear()
            return True
        return False

    def clear(self, key: str) -> None:
        self._records.pop(key, None)

    def _current(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and self._forgiven(record, now):
            del self._records[key]
            return None
        return record

    def _record(self, key: str, now: float) -> _Record:
        record = self._current(key, now)
        if record is None:
            record = self._records[key] = _Record()
            if len(self._records) >= self._sweep_at:
                self._sweep(now)
        return record

    def _forget_old(self, record: _Record, now: float) -> None:
        while record.failures and record.failures[0] <= now - self._window_s:
            record.failures.popleft()

    def _forgiven(self, record: _Record, now: float) -> bool:
        quiet = now >= max(record.last, record.locked_until) + self._window_s
        return quiet and not record.pending

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
        # Login handlers run in a thread pool: reserving must be one step for all of them.
        self._lock = threading.Lock()

    def reserve(self, name: str, address: str | None) -> float:
        """Seconds until a login for this name from this address may be tried; 0: now, and
        the attempt is reserved: settle it with `failure` or `success`."""
        with self._lock:
            now = self._clock()
            key = _name_key(name)
            wait = self._names.wait(key, now)
            if address:
                wait = max(wait, self._addresses.wait(address, now))
            if wait == 0:
                self._names.reserve(key, now)
                if address:
                    self._addresses.reserve(address, now)
            return wait

    def failure(self, name: str, address: str | None) -> None:
        with self._lock:
            now = self._clock()
            self._names.settle(_name_key(name), now, failed=True)
            if address:
                self._addresses.settle(address, now, failed=True)

    def success(self, name: str, address: str | None) -> None:
        """Forgive the account's failures. Not the address's: otherwise an attacker could
        wipe their address's count by logging in to an account of their own now and then."""
        with self._lock:
            now = self._clock()
            if address:
                self._addresses.settle(address, now, failed=False)
            self._names.clear(_name_key(name))


class RefusalThrottle:
    """Refused requests (role denied, no reason, out of scope) per account. Each is audited,
    so an account probing or flooding would otherwise grow the trail at will: after `limit`
    refusals within `window_s` its requests are turned away unaudited for `lockout_s` (doubling
    while it goes on); the refusal that starts a lock is audited saying so."""

    def __init__(
        self,
        limit: int = 30,
        window_s: float = 60.0,
        lockout_s: float = 60.0,
        max_lockout_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Limiter(limit, window_s, lockout_s, max_lockout_s)
        self._clock = clock
        self._lock = threading.Lock()

    def wait(self, account: str) -> float:
        """Seconds the account's requests stay turned away; 0: not throttled."""
        with self._lock:
            return self._accounts.locked_for(account, self._clock())

    def refused(self, account: str) -> bool:
        """Count a refusal; True when it starts a lock."""
        with self._lock:
            return self._accounts.fail(account, self._clock())


def _name_key(name: str) -> str:
    # The store finds accounts case-insensitively, so "Admin" and "admin" share one count.
    return name.strip().lower()[:_NAME_KEY_LENGTH]
