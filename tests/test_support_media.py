"""Smoke tests for the test-support helpers (fake cameras and generated footage)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import av
import av.error
import pytest

from support.fixtures import GarbageServerFactory, RtspServerFactory
from support.media import garbage_file, h264_clip, resolution_change_clip

TCP = {"rtsp_transport": "tcp"}
# FFmpeg's default 5 s analyzeduration costs ~1.9 s per open against this server.
FAST = {**TCP, "analyzeduration": "500000"}


def read_packets(url: str, seconds: float, options: dict[str, str] = FAST) -> list[av.Packet]:
    """Demux video packets for `seconds` of wall time (server paces in real time)."""
    with av.open(url, options=options, timeout=(10.0, 5.0)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        packets: list[av.Packet] = []
        deadline = time.monotonic() + seconds
        for packet in container.demux(stream):
            if packet.pts is not None:
                packets.append(packet)
            if time.monotonic() > deadline:
                break
    return packets


def assert_live_h264(packets: list[av.Packet], fps: int = 15) -> None:
    assert len(packets) >= fps, f"only {len(packets)} packets"
    assert any(p.is_keyframe for p in packets)
    pts = [p.pts for p in packets]
    rising = all(a < b for a, b in itertools.pairwise(pts))
    assert rising, "timestamps must keep rising, also across loops of the clip"


def test_h264_clip_is_cached_with_fixed_gop(media_cache: Path) -> None:
    clip = h264_clip(media_cache, seconds=2, fps=10, gop_seconds=0.5)
    mtime = clip.stat().st_mtime_ns
    assert h264_clip(media_cache, seconds=2, fps=10, gop_seconds=0.5) == clip
    assert clip.stat().st_mtime_ns == mtime
    with av.open(str(clip)) as container:
        packets = [p for p in container.demux(video=0) if p.pts is not None]
    keys = [i for i, p in enumerate(packets) if p.is_keyframe]
    assert keys[:4] == [0, 5, 10, 15]


def test_rtsp_server_loops_and_survives_replug(
    media_cache: Path, rtsp_server: RtspServerFactory
) -> None:
    clip = h264_clip(media_cache, seconds=2)  # shorter than the read below, so it must loop
    server = rtsp_server({"cam1": clip, "cam2": clip})
    assert_live_h264(read_packets(server.url("cam1"), 3.0, TCP))
    assert_live_h264(read_packets(server.url("cam2"), 1.5))
    assert_live_h264(read_packets(server.url("cam1"), 1.5))  # reconnect after disconnect

    server.stop()
    with pytest.raises(av.error.FFmpegError):
        av.open(server.url("cam1"), options=TCP, timeout=2.0)
    port = server.port
    server.start()
    assert server.port == port
    assert_live_h264(read_packets(server.url("cam1"), 1.5))


def test_resolution_change_clip_switches_size(media_cache: Path) -> None:
    clip = resolution_change_clip(media_cache)
    with av.open(str(clip)) as container:
        assert len(container.streams.video) == 1
        sizes = [(f.width, f.height) for f in container.decode(video=0)]
    changes = [s for i, s in enumerate(sizes) if i == 0 or s != sizes[i - 1]]
    assert changes == [(640, 360), (320, 240)]


def test_garbage_server_makes_open_fail(garbage_server: GarbageServerFactory) -> None:
    url = garbage_server()
    with pytest.raises(av.error.FFmpegError):
        av.open(url, options=TCP, timeout=5.0)


def test_garbage_file_is_not_video(tmp_path: Path) -> None:
    path = garbage_file(tmp_path / "junk.mp4")
    with pytest.raises(av.error.FFmpegError):
        av.open(str(path))
