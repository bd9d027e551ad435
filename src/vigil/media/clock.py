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
MAX_DRIFT = 5.0  # seconds stream time may run ahead of or behind real time
CLOCK_STEP = 2.0  # seconds of disagreement between the system and monotonic clocks


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
        self._us: int | None = None
        self._anchor_us = 0
        self._anchor_mono = 0.0
        self._wall_offset = 0.0
        self.clock_steps = 0
        self.discontinuities = 0

    def stamp(self, dts_seconds: float | None) -> int:
        """The UTC time in microseconds of a packet with this decoding timestamp."""
        mono = self._monotonic()
        if self._us is None:
            self._last_dts = dts_seconds
            return self._start(mono)
        step = (
            None if dts_seconds is None or self._last_dts is None else dts_seconds - self._last_dts
        )
        if step is None or not 0 < step <= MAX_STEP:
            # Streams often begin without timestamps (RTSP before its first sender report);
            # only a fault after timestamps were flowing counts as a discontinuity.
            if self._last_dts is not None:
                self.discontinuities += 1
            if self._last_dts is not None and (
                self.discontinuities <= 3 or self.discontinuities % 100 == 0
            ):
                log.warning(
                    "bad stream timestamp, advancing by one frame interval",
                    extra={"camera": self.camera, "step": step, "count": self.discontinuities},
                )
            step = self.interval
        else:
            # Follow the stream's real frame rate for the next bad timestamp.
            self.interval = 0.9 * self.interval + 0.1 * step
        if dts_seconds is not None:
            self._last_dts = dts_seconds
        stamped = self._us + round(step * US)
        real = self._anchor_us + int((mono - self._anchor_mono) * US)
        if abs(stamped - real) > MAX_DRIFT * US:
            log.warning(
                "stream time drifted from real time, re-synchronising",
                extra={"camera": self.camera, "drift_s": (stamped - real) / US},
            )
            stamped = real
        self._us = max(stamped, self._us + 1)
        self._check_system_clock(mono)
        return self._us

    def _start(self, mono: float) -> int:
        start = int(self._wall() * US)
        if self.floor_us is not None and start <= self.floor_us:
            self.clock_steps += 1
            log.warning(
                "system clock is behind the last recording; continuing from its end",
                extra={"camera": self.camera, "behind_s": (self.floor_us - start) / US},
            )
            start = self.floor_us + 1
        self._us = self._anchor_us = start
        self._anchor_mono = mono
        self._wall_offset = self._wall() - mono
        return start

    def _check_system_clock(self, mono: float) -> None:
        offset = self._wall() - mono
        if abs(offset - self._wall_offset) > CLOCK_STEP:
            self.clock_steps += 1
            log.warning(
                "system clock stepped; recording times continue on the monotonic clock",
                extra={"camera": self.camera, "step_s": round(offset - self._wall_offset, 3)},
            )
            self._wall_offset = offset
