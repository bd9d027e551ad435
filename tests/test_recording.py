"""End to end: `vigil run` recording real RTSP cameras served by GStreamer."""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from pathlib import Path

from support.fixtures import RtspServerFactory
from support.vigil import VigilFactory, assert_continuous, decode_all, wait_for
from vigil.storage.layout import Layout
from vigil.timeutil import US


def test_records_rtsp_cameras_with_index_and_status(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    server = rtsp_server({"cam1": camera_clip, "cam2": camera_clip})
    secret_url = server.url("cam1").replace("rtsp://", "rtsp://admin:s3cret@")
    vigil = vigil_factory({
        "gate-north": {"main": secret_url, "site": "market-north", "location": [34.5, 69.1]},
        "yard": {"main": server.url("cam2"), "retention_days": 7},
    })  # fmt: skip
    vigil.start()
    online = vigil.wait_state("gate-north", "online")
    assert online["codec"] == "h264" and (online["width"], online["height"]) == (640, 360)
    vigil.wait_segments("gate-north", 4)
    vigil.wait_segments("yard", 4)
    live = wait_for("fps and bitrate", lambda: (c := vigil.camera("gate-north"))["fps"] and c, 10)
    assert 12 <= live["fps"] <= 18 and live["bitrate"] > 10_000

    status = vigil.cli("status", "-c", str(vigil.config_path), "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert set(report["cameras"]) == {"gate-north", "yard"}
    assert report["cameras"]["yard"]["segments"] >= 4 and report["alarms"] == []

    assert vigil.stop() == 0  # SIGTERM: clean stop, every open segment closed and indexed
    layout = Layout(vigil.storage)
    for camera in ("gate-north", "yard"):
        segments = vigil.segments(camera)
        assert_continuous(segments)
        for segment in segments:
            path = layout.absolute(segment.path)
            assert path.stat().st_size == segment.bytes
            assert hashlib.sha256(path.read_bytes()).hexdigest() == segment.sha256
            packets, pictures = decode_all(path)
            assert packets == pictures > 0
            # Keyframe cuts at the 2 s target (the clip has 1 s GOPs), last one may be short.
            assert segment.end_us - segment.start_us <= 3.1 * US
        on_disk = {
            str(p.relative_to(layout.recordings)) for p in layout.camera_dir(camera).rglob("*.ts")
        }
        assert on_disk == {s.path for s in segments}  # no file left without a row

    listing = vigil.cli("recordings", "-c", str(vigil.config_path), "--camera", "yard", "--json")
    rows = json.loads(listing.stdout)["segments"]
    assert [r["sha256"] for r in rows] == [s.sha256 for s in vigil.segments("yard")]
    since = rows[1]["start"]
    later = vigil.cli("recordings", "-c", str(vigil.config_path), "--camera", "yard",
                      "--since", since, "--json")  # fmt: skip
    assert json.loads(later.stdout)["segments"][0]["start"] == rows[1]["start"]
    unknown = vigil.cli("recordings", "-c", str(vigil.config_path), "--camera", "nope")
    assert unknown.returncode != 0 and "known cameras: gate-north, yard" in unknown.stderr

    everything = vigil.log_path.read_text() + status.stdout + listing.stdout
    assert "s3cret" not in everything  # credentials never reach logs or status
    assert all(entry.get("camera") for entry in vigil.logs() if entry.get("logger") == "__main__")


def test_camera_unplugged_and_replugged(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    server = rtsp_server({"cam1": camera_clip})
    vigil = vigil_factory({"gate": {"main": server.url("cam1")}})
    vigil.start()
    vigil.wait_state("gate", "online")
    vigil.wait_segments("gate", 2)
    server.stop()
    offline = vigil.wait_state("gate", "offline", timeout=30)
    assert offline["error"]
    count = len(vigil.segments("gate"))
    server.start()
    vigil.wait_state("gate", "online", timeout=30)
    vigil.wait_segments("gate", count + 2, timeout=30)
    assert vigil.process is not None and vigil.process.poll() is None
    assert vigil.stop() == 0
    segments = vigil.segments("gate")
    gaps = [b.start_us - a.end_us for a, b in pairwise(segments)]
    assert min(gaps) >= 0  # never overlapping
    assert max(gaps) > 1 * US  # the outage is a gap, not papered over
