"""End to end: `vigil run` recording real RTSP cameras served by GStreamer."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from sqlalchemy.exc import OperationalError

from support.fixtures import RtspServerFactory
from support.media import source_video
from support.vigil import (
    VigilFactory,
    assert_continuous,
    decode_all,
    readable_by_others,
    wait_for,
)
from vigil.config import load_config
from vigil.storage.database import connect
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US, parse_iso


def test_records_rtsp_cameras_with_index_and_status(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    server = rtsp_server({"cam1": camera_clip, "cam2": camera_clip})
    secret_url = server.url("cam1").replace("rtsp://", "rtsp://admin:s3cret@")
    vigil = vigil_factory({
        "gate-north": {"main": secret_url, "site": "market-north", "location": [34.5, 69.1]},
        "yard": {"main": server.url("cam2"), "retention_days": 7},
    })  # fmt: skip
    vigil.storage.mkdir(mode=0o755)  # as an older version, or an installer by hand, left it
    vigil.storage.chmod(0o755)
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

    # Footage, the index and its password hashes are Vigil's user's alone.
    assert readable_by_others(vigil.storage) == []
    assert any("now private" in e["msg"] for e in vigil.logs())
    listing = vigil.cli("recordings", "-c", str(vigil.config_path), "--camera", "yard", "--json")
    rows = json.loads(listing.stdout)["segments"]
    assert [(r["id"], r["sha256"]) for r in rows] == [
        (s.id, s.sha256) for s in vigil.segments("yard")
    ]
    assert str(vigil.storage) not in listing.stdout, "metadata only: no path to footage"
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
    unplugged = time.time()
    offline = vigil.wait_state("gate", "offline", timeout=30)
    assert offline["error"]
    count = len(vigil.segments("gate"))
    time.sleep(3)
    replugged = time.time()
    server.start()
    vigil.wait_state("gate", "online", timeout=30)
    vigil.wait_segments("gate", count + 2, timeout=30)
    assert vigil.process is not None and vigil.process.poll() is None
    assert vigil.stop() == 0
    segments = vigil.segments("gate")
    gaps = [b.start_us - a.end_us for a, b in pairwise(segments)]
    assert min(gaps) >= 0  # never overlapping
    # The outage shows as a gap as long as the camera was away, not papered over.
    assert max(gaps) >= (replugged - unplugged - 0.5) * US
    assert sorted(gaps)[-2] == 0  # and it is the only gap
    listing = vigil.cli(
        "events", "-c", str(vigil.config_path), "--type", "camera_offline", "--json"
    )
    [outage] = json.loads(listing.stdout)["events"]
    assert outage["camera"] == "gate" and outage["end"], "the outage is an event, ended on replug"
    assert parse_iso(outage["start"]) / US <= replugged <= parse_iso(outage["end"]) / US


def test_records_into_postgresql_over_udp(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory, postgres_server
) -> None:
    server = rtsp_server({"cam": camera_clip})
    vigil = vigil_factory(
        {"gate": {"main": server.url("cam"), "transport": "udp"}},
        database={"url": postgres_server.new_database()},
    )
    vigil.start()
    vigil.wait_state("gate", "online")
    vigil.wait_segments("gate", 3)
    status = json.loads(vigil.cli("status", "-c", str(vigil.config_path), "--json").stdout)
    assert status["cameras"]["gate"]["state"] == "online"
    assert vigil.stop() == 0
    segments = vigil.segments("gate")
    assert_continuous(segments)
    layout = Layout(vigil.storage)
    assert not (vigil.storage / "vigil.db").exists()  # the index lives in PostgreSQL
    for segment in segments:
        packets, pictures = decode_all(layout.absolute(segment.path))
        assert packets == pictures > 0


def test_run_without_config_records_the_demo_camera(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    env = {**os.environ, "VIGIL_HOME": str(home), "VIGIL_DEMO_VIDEO": str(source_video())}
    process = subprocess.Popen([sys.executable, "-m", "vigil", "run"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        config = load_config(home / "demo.yaml") if wait_for(
            "the demo config", (home / "demo.yaml").exists, 120) else None  # fmt: skip
        assert config is not None and config.cameras["demo"].main.startswith("file://")
        engine = connect(config.database_url())
        wait_for("a demo segment", lambda: _segments(engine), 120)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    assert b"recording a demo camera" in process.stderr.read()


def _segments(engine) -> list:  # type: ignore[no-untyped-def]
    try:
        return SegmentIndex(engine).find("demo")
    except OperationalError:
        return []
