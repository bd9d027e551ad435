"""Live analysis end to end: a real RTSP camera, the detector service, events, MQTT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.fixtures import RtspServerFactory
from support.mqtt import Listener, MosquittoBroker
from support.vigil import VigilFactory, readable_by_others, wait_for

SHARED = Path(os.environ.get("VIGIL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MODEL = SHARED / "models" / "yolox_nano.onnx"
BACKPACK = SHARED / "data" / "real" / "abandoned_backpack_indoor.mp4"


def test_camera_raises_intrusion_events_with_snapshots_and_mqtt(
    rtsp_server: RtspServerFactory,
    camera_clip: Path,
    vigil_factory: VigilFactory,
    mosquitto: MosquittoBroker,
) -> None:
    assert MODEL.is_file(), f"{MODEL} is missing; set VIGIL_SHARED to the shared assets"
    server = rtsp_server({"hall": camera_clip})
    listener = Listener(mosquitto, "vigil/#")
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    vigil = vigil_factory(
        {"hall": {"main": server.url("hall"), "analysis": {"fps": 3},
                  "zones": {"floor": {"polygon": whole, "intrusion": {"objects": ["person"]}}},
                  "tamper": True}},
        detector={"model": str(MODEL)},
        mqtt={"host": "127.0.0.1", "port": mosquitto.port},
    )  # fmt: skip
    vigil.start()
    vigil.wait_state("hall", "online", timeout=60)
    message = listener.json("vigil/events", timeout=90)  # vtest: people walk through the hall
    assert message["type"] == "new" and message["after"]["type"] == "intrusion"
    assert message["after"]["label"] == "person" and message["after"]["camera"] == "hall"
    status = Listener(mosquitto, "vigil/hall/status")  # retained: the latest state
    assert status.json("vigil/hall/status", timeout=30)["state"] == "online"
    status.close()
    running = wait_for(
        "analysis figures", lambda: (vigil.camera("hall")["analysis"] or {}).get("fps"), 30
    )
    assert running > 0
    assert vigil.stop() == 0
    listener.close()

    listing = vigil.cli("events", "-c", str(vigil.config_path), "--camera", "hall", "--json")
    assert listing.returncode == 0, listing.stderr
    events = json.loads(listing.stdout)["events"]
    intrusions = [e for e in events if e["type"] == "intrusion"]
    assert intrusions and all(e["label"] == "person" and e["zone"] == "floor" for e in intrusions)
    assert all(e["end"] for e in intrusions), "stopping ends every open event"
    first = intrusions[-1]
    assert first["snapshot"] is True and first["recording"], "snapshot and recording are kept"
    snapshots = list((vigil.storage / "snapshots").rglob("*.jpg"))
    assert snapshots and str(vigil.storage) not in listing.stdout, "metadata only, no paths"
    assert readable_by_others(vigil.storage) == []
    assert not [e for e in events if e["type"] == "tamper"]


def test_analyze_finds_the_abandoned_backpack() -> None:
    assert BACKPACK.is_file(), f"{BACKPACK} is missing; set VIGIL_SHARED to the shared assets"
    env = {**os.environ, "VIGIL_MODELS_DIR": str(MODEL.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "vigil", "analyze", str(BACKPACK), "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    unattended = [e for e in report["events"] if e["type"] == "unattended_object"]
    assert len(unattended) == 1, report["events"]
    x1, y1, x2, y2 = unattended[0]["box"]
    # The bag stands near (130..190, 320..376) of the 640x480 picture after frame ~490.
    assert x1 >= 110 and x2 <= 210 and y1 >= 300 and y2 <= 400
    assert unattended[0]["start_s"] >= 11.0  # not before the bag was put down
    assert not [e for e in report["events"] if e["type"] == "tamper"]


def test_low_power_mode_analyses_keyframes_only_and_still_raises_events(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    assert MODEL.is_file(), f"{MODEL} is missing; set VIGIL_SHARED to the shared assets"
    server = rtsp_server({"hall": camera_clip})  # 15 fps, a keyframe every second
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    vigil = vigil_factory(
        {"hall": {"main": server.url("hall"), "analysis": {"fps": 5, "keyframes_only": True},
                  "zones": {"floor": {"polygon": whole, "intrusion": {"objects": ["person"]}}}}},
        detector={"model": str(MODEL)},
    )  # fmt: skip
    vigil.start()
    vigil.wait_state("hall", "online", timeout=60)

    def rate() -> float | None:
        analysis = vigil.camera("hall")["analysis"] or {}
        # The rate is over 10 s: wait until the window is full of analysed keyframes.
        return analysis["fps"] if analysis.get("fps", 0) >= 0.5 else None

    fps = wait_for("keyframes analysed", rate, 60)
    assert 0.5 <= fps <= 1.5, f"{fps} pictures/s: one keyframe a second, not the 5 fps asked"

    def intrusions() -> list[dict[str, object]]:
        listing = vigil.cli("events", "-c", str(vigil.config_path), "--camera", "hall", "--json")
        return [e for e in json.loads(listing.stdout)["events"] if e["type"] == "intrusion"]

    assert wait_for("an intrusion from keyframes alone", intrusions, 90)
    assert vigil.stop() == 0
