"""Exponential backoff with full jitter, capped, as for reconnects and restarts."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, first: float, cap: float, rng: random.Random | None = None) -> None:
        self.first = first
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.attempts)
        self.attempts += 1
        # Jitter keeps a site's cameras from reconnecting in lock-step after a power cut.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempts = 0
