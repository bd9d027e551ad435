"""Turning a stream's timestamps into UTC wall-clock times that never go backwards.

A session's time is anchored to the system clock at its first packet and then
advanced by the stream's own timestamps. Bad timestamps (missing, repeated,
backwards, wild jumps) advance by the usual frame interval instead. A step of the
system clock (NTP after a power cut) is logged but does not move recorded time;
a camera whose timestamps run away from real time is pulled back to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from vigil.timeutil import US

log = logging.getLogger(__name__)

MAX_STEP = 5.0  # seconds between two packets beyond which a timestamp is not believed
MAX_BEHIND = 5.0  # seconds stream time may lag real time (late delivery) before a jump
MAX_AHEAD = 1.0  # seconds stream time may lead real time: a live frame is never from the future
CLOCK_STEP = 2.0  # seconds of disagreement between the system and monotonic clocks
# The smallest advance between packets: coarser than one 90 kHz tick, so a muxer never
# sees two packets at the same time when a runaway stream is held back.
MIN_STEP_US = 1000


class MediaClock:
    def __init__(
        self,
        camera: str,
        floor_us: int | None,
        nominal_interval: float,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera = camera
        self.floor_us = floor_us
        self.interval = nominal_interval
        self._wall = wall
        self._monotonic = monotonic
        self._last_dts: float | None = None
        self._base_dts = 0.0  # the run of trusted timestamps began at this DTS ...
        self._base_us = 0  # ... which was stamped at this time
        self._us: int | None = None
        # Created as the connection opens: that moment anchors the session.
        self._anchor_mono = monotonic()
        self._anchor_us = int(wall() * US)
        self._wall_offset = wall() - self._anchor_mono
        self._next_clock_check = 0.0
        self.clock_steps = 0
        self.discontinuities = 0

    def stamp(self, dts_seconds: float | None) -> int:
        """The UTC time in microseconds of a packet with this decoding timestamp."""
        mono = self._monotonic()
        if self._us is None:
            self._rebase(dts_seconds)
            return self._start()
        step = None
        if dts_seconds is not None and self._last_dts is not None:
            step = dts_seconds - self._last_dts
        trusted = dts_seconds is not None and step is not None and 0 < step <= MAX_STEP
        if dts_seconds is not None and step is not None and trusted:
            # Measured from the run's base, not summed step by step, so rounding never adds up.
            stamped = self._base_us + round((dts_seconds - self._base_dts) * US)
            self.interval = 0.9 * self.interval + 0.1 * step
        else:
            self._count_discontinuity(step)
            stamped = self._us + round(self.interval * US)
        real = self._anchor_us + int((mono - self._anchor_mono) * US)
        if not -MAX_BEHIND * US <= stamped - real <= MAX_AHEAD * US:
            log.warning(
                "stream time drifted from real time, re-synchronising",
                extra={"camera": self.camera, "drift_s": (stamped - real) / US},
            )
            stamped, trusted = real, False
        self._us = max(stamped, self._us + MIN_STEP_US)
        if not trusted or self._us != stamped:
            self._rebase(dts_seconds)
        elif dts_seconds is not None:
            self._last_dts = dts_seconds
        self._check_system_clock(mono)
        return self._us

    def _rebase(self, dts_seconds: float | None) -> None:
        """Start a new run of trusted timestamps at the current packet."""
        self._last_dts = dts_seconds
        self._base_dts = dts_seconds or 0.0
        self._base_us = self._us or 0

    def _count_discontinuity(self, step: float | None) -> None:
        # Streams often begin without timestamps (RTSP before its first sender report);
        # only a fault after timestamps were flowing counts as a discontinuity.
        if self._last_dts is None:
            return
        self.discontinuities += 1
        if self.discontinuities <= 3 or self.discontinuities % 100 == 0:
            log.warning(
                "bad stream timestamp, advancing by one frame interval",
                extra={"camera": self.camera, "step": step, "count": self.discontinuities},
            )

    def _start(self) -> int:
        start = self._anchor_us
        if self.floor_us is not None and start <= self.floor_us:
            self.clock_steps += 1
            log.warning(
                "system clock is behind the last recording; continuing from its end",
                extra={"camera": self.camera, "behind_s": (self.floor_us - start) / US},
            )
            start = self.floor_us + 1
        self._us = self._anchor_us = start
        self._base_us = start
        return start

    def _check_system_clock(self, mono: float) -> None:
        if mono < self._next_clock_check:
            return  # once a second is enough to notice a step, and keeps the packet path light
        self._next_clock_check = mono + 1.0
        offset = self._wall() - mono
        if abs(offset - self._wall_offset) > CLOCK_STEP:
            self.clock_steps += 1
            log.warning(
                "system clock stepped; recording times continue on the monotonic clock",
                extra={"camera": self.camera, "step_s": round(offset - self._wall_offset, 3)},
            )
            self._wall_offset = offset
