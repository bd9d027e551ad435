"""HLS VOD playlists over recorded segments, and the recorded spans a timeline draws.

Built for every scrub of the timeline, so an hour of 2 s segments must take a few milliseconds:
times are formatted with integer arithmetic instead of a datetime per segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vigil.storage.index import Segment
from vigil.timeutil import US, to_datetime

# Recorder cuts leave a few milliseconds between one segment's end and the next one's start;
# a player or a timeline should see anything under half a second as continuous.
GAP_TOLERANCE_US = US // 2
DAY_MS = 86_400_000


def playable(segments: Iterable[Segment]) -> list[Segment]:
    """Segments whose file is on disk (rows for missing files stay in the index for audit)."""
    return [segment for segment in segments if segment.state == "ok"]


def playlist(segments: list[Segment], url_for: Callable[[Segment], str]) -> str:
    """An HLS VOD playlist of the segments (oldest first), marking a discontinuity at each gap.

    Each segment carries its wall-clock start (EXT-X-PROGRAM-DATE-TIME), so the player can
    map its position back to the recording time. The segment files restart their timestamps at
    zero; serve them through `remux.hls_segment`, which restamps them to continue each other.
    """
    shown = playable(segments)
    longest_us = max((s.end_us - s.start_us for s in shown), default=US)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",  # the lowest version with decimal EXTINF durations
        f"#EXT-X-TARGETDURATION:{max(1, -(-longest_us // US))}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    dates: dict[int, str] = {}
    previous_end: int | None = None
    for segment in shown:
        if previous_end is not None and abs(segment.start_us - previous_end) > GAP_TOLERANCE_US:
            lines.append("#EXT-X-DISCONTINUITY")
        previous_end = segment.end_us
        day, millis = divmod(segment.start_us // 1000, DAY_MS)
        date = dates.get(day)
        if date is None:
            date = dates[day] = f"{to_datetime(day * DAY_MS * 1000):%Y-%m-%d}"
        seconds, millis = divmod(millis, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        lines.append(
            f"#EXT-X-PROGRAM-DATE-TIME:{date}T{hours:02d}:{minutes:02d}:{seconds:02d}."
            f"{millis:03d}Z\n#EXTINF:{(segment.end_us - segment.start_us) / US:.3f},\n"
            f"{url_for(segment)}"
        )
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def spans(
    segments: list[Segment], gap_tolerance_us: int = GAP_TOLERANCE_US
) -> list[tuple[int, int]]:
    """The recorded (start_us, end_us) spans of the segments (oldest first), contiguous ones
    merged; the timeline's gaps are what lies between them."""
    merged: list[list[int]] = []
    for segment in playable(segments):
        if merged and segment.start_us - merged[-1][1] <= gap_tolerance_us:
            merged[-1][1] = max(merged[-1][1], segment.end_us)
        else:
            merged.append([segment.start_us, segment.end_us])
    return [(start, end) for start, end in merged]
