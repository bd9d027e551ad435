"""Playback and live view: HLS playlists, fragmented MP4 remuxing, the live stream, thumbnails."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from support.media import garbage_file, h264_clip
from support.segments import write_segment
from support.vigil import decode_all, wait_for
from vigil.errors import StorageError
from vigil.playback.hls import playlist, spans
from vigil.playback.live import NoFootage, live_fmp4
from vigil.playback.remux import fragmented_mp4, hls_segment
from vigil.storage.database import connect, migrate
from vigil.storage.index import Segment, SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US, now_us, to_iso

FPS = 10  # the clip: 10 fps, a keyframe every second, so a 2 s segment is 20 frames
CAMERA = "gate"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = Path(os.environ.get("VIGIL_TEST_CACHE") or tmp_path_factory.mktemp("clips"))
    return h264_clip(cache, width=320, height=180, fps=FPS, seconds=8)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "storage")
    layout.recordings.mkdir(parents=True)
    return layout


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SegmentIndex]:
    # Playback only reads rows SegmentIndex returns; nothing here depends on the database.
    engine = connect(f"sqlite:///{tmp_path / 'vigil.db'}")
    migrate(engine)
    yield SegmentIndex(engine)
    engine.dispose()


def record(layout: Layout, index: SegmentIndex, clip: Path, starts_s: list[float]) -> list[Segment]:
    """2 s segments starting at these offsets (seconds) from a minute ago."""
    base = now_us() - 60 * US
    for offset in starts_s:
        write_segment(layout, clip, CAMERA, base + round(offset * US), index=index)
    return index.find(CAMERA)


def pictures(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def same_pictures(got: list[np.ndarray], expected: list[np.ndarray]) -> bool:
    """Bit-exact: stream copy decodes to exactly the recorded pictures."""
    return len(got) == len(expected) and all(map(np.array_equal, got, expected))


def nal_units(packet: av.Packet, length_prefixed: bool) -> list[bytes]:
    """The picture slices (NAL types 1 and 5) of an Annex B or length-prefixed packet."""
    data = bytes(packet)
    units: list[bytes] = []
    if length_prefixed:
        at = 0
        while at < len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            units.append(data[at + 4 : at + 4 + size])
            at += 4 + size
    else:
        units = [unit.rstrip(b"\x00") for unit in data.split(b"\x00\x00\x01")[1:]]
    return [unit for unit in units if unit[0] & 0x1F in (1, 5)]


def first_keyframe(path: Path) -> av.Packet:
    with av.open(str(path)) as container:
        return next(p for p in container.demux(video=0) if p.is_keyframe)


def save(chunks: Iterator[bytes], path: Path) -> Path:
    with open(path, "wb") as file:
        for chunk in chunks:
            assert chunk, "empty chunks are not sent"
            file.write(chunk)
    return path


def video_timestamps(path: Path) -> tuple[list[float], str]:
    """Presentation times (s) of the decoded frames, and the codec."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
        return times, stream.codec_context.name


# --- HLS -------------------------------------------------------------------------------------


def parse_playlist(text: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    entry: dict[str, object] = {}
    for line in text.splitlines():
        if line == "#EXT-X-DISCONTINUITY":
            entry["discontinuity"] = True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            entry["date"] = line.split(":", 1)[1]
        elif line.startswith("#EXTINF:"):
            entry["duration"] = float(line[len("#EXTINF:") :].rstrip(","))
        elif not line.startswith("#"):
            entries.append({**entry, "uri": line})
            entry = {}
    return entries


def test_playlist_lists_recorded_segments_and_marks_the_gap(
    layout: Layout, index: SegmentIndex, clip: Path
) -> None:
    segments = record(layout, index, clip, [0, 2, 4, 10, 12])
    index.set_state([segments[-1].id], "missing")  # a row whose file is gone is not played
    segments = index.find(CAMERA)
    text = playlist(segments, lambda s: f"/segments/{s.id}.ts")

    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:3"]
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and "#EXT-X-MEDIA-SEQUENCE:0" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    shown = segments[:4]
    longest = max(s.end_us - s.start_us for s in shown) / US
    assert f"#EXT-X-TARGETDURATION:{math.ceil(longest)}" in lines
    entries = parse_playlist(text)
    assert [e["uri"] for e in entries] == [f"/segments/{s.id}.ts" for s in shown]
    assert [bool(e.get("discontinuity")) for e in entries] == [False, False, False, True]
    for entry, segment in zip(entries, shown, strict=True):
        assert entry["duration"] == pytest.approx(
            (segment.end_us - segment.start_us) / US, abs=1e-3
        )
        assert entry["date"] == f"{to_iso(segment.start_us)[:23]}Z"  # milliseconds
    assert sum(e["duration"] for e in entries) == pytest.approx(
        sum(s.end_us - s.start_us for s in shown) / US, abs=0.005
    )


def test_spans_merge_contiguous_segments(layout: Layout, index: SegmentIndex, clip: Path) -> None:
    segments = record(layout, index, clip, [0, 2, 4, 10, 12, 20])
    assert spans(segments) == [
        (segments[0].start_us, segments[2].end_us),
        (segments[3].start_us, segments[4].end_us),
        (segments[5].start_us, segments[5].end_us),
    ]
    # A tolerance wider than the gaps joins everything.
    assert spans(segments, gap_tolerance_us=10 * US) == [(segments[0].start_us, segments[5].end_us)]
    index.set_state([segments[5].id], "missing")
    assert spans(index.find(CAMERA))[-1] == (segments[3].start_us, segments[4].end_us)


def test_playlist_plays_end_to_end(
    layout: Layout, index: SegmentIndex, clip: Path, tmp_path: Path
) -> None:
    segments = record(layout, index, clip, [0, 2, 4, 10])
    frames = sum(decode_all(layout.absolute(s.path))[1] for s in segments)
    # As recorded: relative URIs beside the files.
    raw = layout.recordings / "raw.m3u8"
    raw.write_text(playlist(segments, lambda s: s.path))
    assert len(pictures(raw)) == frames

    # As served: each file restamped with its recording time, so timestamps run on.
    served = tmp_path / "served"
    served.mkdir()
    for segment in segments:
        save(
            hls_segment(layout.absolute(segment.path), segment.start_us),
            served / f"{segment.id}.ts",
        )
    (served / "index.m3u8").write_text(playlist(segments, lambda s: f"{s.id}.ts"))
    dts: list[int] = []
    decoded = 0
    with av.open(str(served / "index.m3u8")) as container:
        for packet in container.demux(video=0):
            if packet.size:
                dts.append(packet.dts)
                decoded += len(packet.decode())
    assert decoded == len(dts) == frames
    assert all(b > a for a, b in pairwise(dts)), "timestamps run on across segments"
    # Exact: a float product of a 10^15 µs time loses the last tick (seen once).
    first = round(Fraction(segments[0].start_us * 90_000, US)) % (1 << 33)
    assert dts[0] % (1 << 33) == first
    for segment in segments:
        path = served / f"{segment.id}.ts"
        assert decode_all(path) == decode_all(layout.absolute(segment.path))
        restamped, original = first_keyframe(path), first_keyframe(layout.absolute(segment.path))
        assert nal_units(restamped, False) == nal_units(original, False)  # stream copy


def test_hls_segment_refuses_an_unreadable_file(tmp_path: Path) -> None:
    junk = garbage_file(tmp_path / "junk.ts")
    with pytest.raises(StorageError, match=r"junk\.ts"):
        hls_segment(junk, now_us())


# --- fragmented MP4 --------------------------------------------------------------------------


def test_fragmented_mp4_joins_segments_without_reencoding(
    layout: Layout, index: SegmentIndex, clip: Path, tmp_path: Path
) -> None:
    segments = record(layout, index, clip, [0, 2, 10])  # the gap is collapsed
    paths = [layout.absolute(s.path) for s in segments]
    mp4 = save(fragmented_mp4(paths), tmp_path / "joined.mp4")

    times, codec = video_timestamps(mp4)
    assert codec == "h264"
    assert len(times) == sum(decode_all(p)[1] for p in paths)
    assert times[0] == pytest.approx(0, abs=1e-6)
    assert all(b > a for a, b in pairwise(times))
    assert max(b - a for a, b in pairwise(times)) == pytest.approx(1 / FPS, abs=1e-3)
    with av.open(str(mp4)) as container:
        duration = float(container.duration or 0) / av.time_base
        joined_keyframe = next(p for p in container.demux(video=0) if p.is_keyframe)
        assert nal_units(joined_keyframe, True) == nal_units(first_keyframe(paths[0]), False)
    recorded = sum(s.end_us - s.start_us for s in segments) / US
    assert duration == pytest.approx(recorded, abs=1.5 / FPS)
    expected = [picture for path in paths for picture in pictures(path)]
    assert same_pictures(pictures(mp4), expected)


@pytest.mark.parametrize(("offset_s", "keyframe_s"), [(0.95, 0), (1.0, 1), (1.55, 1)])
def test_fragmented_mp4_starts_at_the_keyframe_at_or_before_the_offset(
    layout: Layout,
    index: SegmentIndex,
    clip: Path,
    tmp_path: Path,
    offset_s: float,
    keyframe_s: int,
) -> None:
    segments = record(layout, index, clip, [0, 2])
    paths = [layout.absolute(s.path) for s in segments]
    mp4 = save(fragmented_mp4(paths, start_offset_s=offset_s), tmp_path / "seek.mp4")
    expected = [picture for path in paths for picture in pictures(path)][keyframe_s * FPS :]
    assert same_pictures(pictures(mp4), expected)
    assert video_timestamps(mp4)[0][0] == pytest.approx(0, abs=1e-6)


def test_fragmented_mp4_skips_an_unreadable_segment(
    layout: Layout,
    index: SegmentIndex,
    clip: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    segments = record(layout, index, clip, [0, 2])
    good = [layout.absolute(s.path) for s in segments]
    junk = garbage_file(tmp_path / "junk.ts")
    caplog.set_level(logging.WARNING, logger="vigil.playback.remux")
    mp4 = save(fragmented_mp4([good[0], junk, good[1]]), tmp_path / "skip.mp4")
    assert len(pictures(mp4)) == sum(decode_all(p)[1] for p in good)
    assert any("junk.ts" in r.getMessage() for r in caplog.records)


def test_fragmented_mp4_of_nothing_is_empty() -> None:
    assert list(fragmented_mp4([])) == []


# --- live ------------------------------------------------------------------------------------


class TsWriter(threading.Thread):
    """Records like the recorder: each file starts at a keyframe with timestamps from zero; here
    every packet is flushed to disk at once, at about real time, so a reader can follow it."""

    def __init__(self, layout: Layout, clip: Path, files: int, seconds: float = 2.0) -> None:
        super().__init__(name="ts-writer", daemon=True)
        self.layout, self.clip, self.files, self.seconds = layout, clip, files, seconds
        self.paths: list[Path] = []
        self.first_closed = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._record()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def _record(self) -> None:
        start = now_us()
        with av.open(str(self.clip)) as source:
            stream = source.streams.video[0]
            packets = (p for p in source.demux(stream) if p.dts is not None)
            pending = next(packets)
            for number in range(self.files):
                path = self.layout.absolute(self.layout.relative_path(CAMERA, start))
                path.parent.mkdir(parents=True, exist_ok=True)
                self.paths.append(path)
                options = {"flush_packets": "1"}
                with av.open(str(path), "w", format="mpegts", container_options=options) as out:
                    copy = out.add_stream_from_template(stream)
                    first = pending.dts
                    while True:
                        pending.stream = copy
                        pending.dts -= first
                        pending.pts -= first
                        out.mux(pending)
                        time.sleep(1 / FPS)
                        pending = next(packets)
                        if pending.is_keyframe and (pending.dts - first) * stream.time_base >= (
                            self.seconds
                        ):
                            break
                start += round(self.seconds * US)
                if number == 0:
                    self.first_closed.set()


def test_live_follows_the_file_being_written_into_the_next(
    layout: Layout, index: SegmentIndex, clip: Path, tmp_path: Path
) -> None:
    writer = TsWriter(layout, clip, files=2)
    writer.start()
    wait_for("the first file", lambda: writer.paths and writer.paths[0].stat().st_size, 10, 0.02)

    done_at: list[float] = []

    def stop() -> bool:
        # After the writer is done, give the reader a moment to read the last bytes.
        if writer.done.is_set() and not done_at:
            done_at.append(time.monotonic())
        return bool(done_at) and time.monotonic() - done_at[0] > 1.0

    stream = live_fmp4(layout.root, CAMERA, index, stop, poll_s=0.02)
    first_chunk_before_first_file_closed: bool | None = None
    mp4 = tmp_path / "live.mp4"
    with open(mp4, "wb") as file:
        for chunk in stream:
            if first_chunk_before_first_file_closed is None:
                first_chunk_before_first_file_closed = not writer.first_closed.is_set()
            file.write(chunk)
    writer.join(10)
    assert writer.error is None
    assert first_chunk_before_first_file_closed is True

    times, codec = video_timestamps(mp4)
    assert codec == "h264" and times[0] == pytest.approx(0, abs=1e-6)
    assert all(b - a == pytest.approx(1 / FPS, abs=1e-3) for a, b in pairwise(times))
    # The stream began at a keyframe of the first file and ran to the end of the second.
    first, second = pictures(writer.paths[0]), pictures(writer.paths[1])
    got = pictures(mp4)
    assert len(second) < len(got) <= len(first) + len(second)
    expected = first[len(first) - (len(got) - len(second)) :] + second
    assert same_pictures(got, expected)


def test_live_refuses_a_camera_without_recent_footage(
    layout: Layout, index: SegmentIndex, clip: Path
) -> None:
    with pytest.raises(NoFootage, match="'gate'"):
        live_fmp4(layout.root, CAMERA, index, lambda: True)
    old = now_us() - 120 * US
    path = layout.absolute(write_segment(layout, clip, CAMERA, old))
    os.utime(path, (old / US, old / US))
    with pytest.raises(NoFootage, match="'gate'"):
        live_fmp4(layout.root, CAMERA, index, lambda: True)


def test_live_falls_back_to_the_newest_indexed_segment(
    layout: Layout, index: SegmentIndex, clip: Path, tmp_path: Path
) -> None:
    # The file lies outside today's and yesterday's directories, so only the index knows it.
    recorded = layout.absolute(write_segment(layout, clip, CAMERA, now_us() - 5 * US))
    moved = layout.camera_dir(CAMERA) / "moved" / recorded.name
    moved.parent.mkdir()
    recorded.rename(moved)
    start = now_us() - 5 * US
    index.add(CAMERA, start, start + 2 * US, f"{CAMERA}/moved/{recorded.name}", 1, "0" * 64)
    polls: list[None] = []

    def stop() -> bool:
        # The file is read in a few calls; fifty means the reader sits at its end, waiting.
        polls.append(None)
        return len(polls) > 50

    mp4 = save(live_fmp4(layout.root, CAMERA, index, stop, poll_s=0.01), tmp_path / "last.mp4")
    # Nothing follows the file, so the stream holds its last GOP (1 s) until stopped.
    assert same_pictures(pictures(mp4), pictures(moved)[-FPS:])
