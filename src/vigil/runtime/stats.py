"""Per-camera stream figures over a sliding window of stream time: fps and bitrate.

Stream time, not arrival time: RTSP delivers in bursts, which would inflate the figures.
"""

from __future__ import annotations

from collections import deque

WINDOW = 5.0  # seconds


class StreamStats:
    def __init__(self) -> None:
        self._packets: deque[tuple[float, int]] = deque()
        self._bytes = 0

    def add(self, at: float, size: int) -> None:
        self._packets.append((at, size))
        self._bytes += size
        while self._packets and at - self._packets[0][0] > WINDOW:
            self._bytes -= self._packets.popleft()[1]

    def fps_and_bitrate(self) -> tuple[float | None, float | None]:
        if len(self._packets) < 2:
            return None, None
        span = self._packets[-1][0] - self._packets[0][0]
        if span <= 0:
            return None, None
        return (len(self._packets) - 1) / span, self._bytes * 8 / span

    def clear(self) -> None:
        self._packets.clear()
        self._bytes = 0
