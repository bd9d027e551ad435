"""Recording time: anchored once, advanced by the stream, never backwards or overlapping."""

from __future__ import annotations

import logging

import pytest

from vigil.media.clock import MediaClock
from vigil.timeutil import US


class FakeTime:
    def __init__(self, wall: float) -> None:
        self.wall_time = wall
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall_time += seconds
        self.mono += seconds

    def wall(self) -> float:
        return self.wall_time

    def monotonic(self) -> float:
        return self.mono


def make(floor: int | None = None, wall: float = 1_800_000_000.0) -> tuple[MediaClock, FakeTime]:
    fake = FakeTime(wall)
    return MediaClock("cam", floor, 0.1, wall=fake.wall, monotonic=fake.monotonic), fake


def test_follows_stream_timestamps() -> None:
    clock, fake = make()
    first = clock.stamp(5.0)
    assert first == 1_800_000_000 * US
    fake.advance(0.1)
    assert clock.stamp(5.1) - first == 100_000


@pytest.mark.parametrize(
    "bad", [None, 5.0, 4.0, 500.0], ids=["missing", "repeat", "backwards", "jump"]
)
def test_bad_timestamps_advance_by_a_frame(bad: float | None) -> None:
    clock, fake = make()
    first = clock.stamp(5.0)
    fake.advance(0.1)
    second = clock.stamp(bad)
    assert second - first == 100_000
    assert clock.discontinuities == 1


def test_clock_step_is_logged_and_does_not_move_time(caplog: pytest.LogCaptureFixture) -> None:
    clock, fake = make()
    times = [clock.stamp(0.0)]
    fake.advance(0.1)
    fake.wall_time -= 3600  # NTP pulls the clock back an hour
    with caplog.at_level(logging.WARNING):
        times.append(clock.stamp(0.1))
    assert times[1] > times[0]
    assert clock.clock_steps == 1
    assert "system clock stepped" in caplog.text


def test_new_session_never_starts_before_the_last_recording(
    caplog: pytest.LogCaptureFixture,
) -> None:
    floor = (1_800_000_000 + 7200) * US  # an earlier session ran with the clock two hours ahead
    clock, _ = make(floor=floor)
    with caplog.at_level(logging.WARNING):
        assert clock.stamp(0.0) > floor
    assert "behind the last recording" in caplog.text


def test_frames_buffered_while_the_stream_is_probed_keep_their_real_times() -> None:
    clock, fake = make()  # the connection opens
    fake.advance(2.0)  # two seconds of probing; the frames wait in a buffer
    times = [clock.stamp(n / 15) for n in range(30)]  # then arrive in one burst
    assert times[0] == 1_800_000_000 * US and times[-1] - times[0] == round(29 / 15 * US)
    for n in range(30, 60):  # and then in real time
        fake.advance(1 / 15)
        stamped = clock.stamp(n / 15)
        assert stamped <= int(fake.wall() * US)  # never a time in the future
    assert clock.discontinuities == 0


def test_runaway_camera_timestamps_are_pulled_back_to_real_time() -> None:
    clock, fake = make()
    start = clock.stamp(0.0)
    dts = 0.0
    for _ in range(300):  # the camera claims 3 s per frame while 0.1 s passes
        fake.advance(0.1)
        dts += 3.0
        last = clock.stamp(dts)
    real = 300 * 0.1 * US
    assert abs((last - start) - real) <= 5 * US + 3 * US
