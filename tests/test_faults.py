"""Garbage input and hung processes: the camera shows an error or recovers, others carry on."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

import av
import psutil

from support.fixtures import GarbageServerFactory, RtspServerFactory
from support.media import garbage_file, resolution_change_clip
from support.vigil import Vigil, VigilFactory, assert_continuous, wait_for
from vigil.storage.layout import Layout


def picture_sizes(path: Path) -> set[tuple[int, int]]:
    with av.open(str(path)) as container:
        return {(f.width, f.height) for f in container.decode(video=0)}


def test_garbage_cameras_do_not_disturb_a_good_one(
    rtsp_server: RtspServerFactory,
    garbage_server: GarbageServerFactory,
    camera_clip: Path,
    media_cache: Path,
    tmp_path: Path,
    vigil_factory: VigilFactory,
) -> None:
    server = rtsp_server({"good": camera_clip})
    junk = garbage_file(tmp_path / "not-a-video.mp4")
    changing = resolution_change_clip(media_cache)
    vigil = vigil_factory({
        "good": {"main": server.url("good")},
        "noise": {"main": garbage_server()},
        "junk": {"main": junk.as_uri()},
        "resizing": {"main": changing.as_uri()},
    })  # fmt: skip
    vigil.start()
    vigil.wait_state("good", "online")
    noise = vigil.wait_state("noise", "error")
    assert "not a video stream" in noise["error"]
    junk_state = vigil.wait_state("junk", "error")
    assert "not-a-video.mp4" in junk_state["error"]
    vigil.wait_state("resizing", "online")
    vigil.wait_segments("resizing", 4)
    vigil.wait_segments("good", 6)
    assert vigil.stop() == 0

    good = vigil.segments("good")
    assert_continuous(good)  # not a single gap while its neighbours misbehaved
    layout = Layout(vigil.storage)
    sizes = set().union(
        *(picture_sizes(layout.absolute(s.path)) for s in vigil.segments("resizing"))
    )
    assert {(640, 360), (320, 240)} <= sizes
    for segment in vigil.segments("resizing"):
        assert len(picture_sizes(layout.absolute(segment.path))) == 1, "a segment mixes sizes"
    assert vigil.segments("noise") == [] and vigil.segments("junk") == []


def camera_processes(vigil: Vigil) -> dict[str, psutil.Process]:
    """The camera processes, by camera: the launcher's children."""
    assert vigil.process is not None
    found = {}
    for process in psutil.Process(vigil.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = process.cmdline()
            if "vigil.runtime.camera" in command and process.status() != psutil.STATUS_ZOMBIE:
                found[command[-1]] = process
    return found


def test_hung_camera_process_is_killed_and_restarted(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    server = rtsp_server({"a": camera_clip, "b": camera_clip})
    vigil = vigil_factory({"a": {"main": server.url("a")}, "b": {"main": server.url("b")}})
    vigil.start()
    vigil.wait_state("a", "online")
    vigil.wait_state("b", "online")
    workers = camera_processes(vigil)
    os.kill(workers["a"].pid, signal.SIGSTOP)  # frozen: alive, but no progress
    stopped_at = time.time()
    wait_for("the hung process killed", lambda: not workers["a"].is_running()
             or workers["a"].status() == psutil.STATUS_ZOMBIE, 60)  # fmt: skip
    restarted = wait_for("a new process for a", lambda: camera_processes(vigil).get("a"), 30)
    assert restarted.pid != workers["a"].pid
    wait_for("a recording again",
             lambda: vigil.segments("a")[-1].start_us / 1e6 > stopped_at, 60)  # fmt: skip
    assert workers["b"].is_running()  # its neighbour was never touched
    assert_continuous(vigil.segments("b"))
    assert vigil.stop() == 0


def test_a_dead_launcher_is_restarted_and_its_cameras_record_again(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    server = rtsp_server({"a": camera_clip})
    vigil = vigil_factory({"a": {"main": server.url("a")}})
    vigil.start()
    vigil.wait_state("a", "online")
    camera = camera_processes(vigil)["a"]
    launcher = camera.parent()
    assert launcher is not None and "vigil.runtime.launcher" in launcher.cmdline()
    launcher.kill()
    killed_at = time.time()
    # Its camera stops on its death signal (it closes and indexes its segment) ...
    wait_for("the orphaned camera stopped", lambda: not camera.is_running(), 30)
    # ... and a new launcher forks a new one, which records on after the old one's last segment.
    wait_for("a recording again",
             lambda: vigil.segments("a")[-1].start_us / 1e6 > killed_at, 90)  # fmt: skip
    assert camera_processes(vigil)["a"].parent().pid != launcher.pid  # type: ignore[union-attr]
    segments = vigil.segments("a")
    assert all(b.start_us >= a.end_us for a, b in itertools.pairwise(segments)), "overlap"
    assert vigil.stop() == 0
