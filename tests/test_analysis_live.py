"""Live analysis end to end: a real RTSP camera, the detector service, events, MQTT."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import psutil

from support.assets import MODEL, REAL, needs
from support.fixtures import RtspServerFactory
from support.mqtt import Listener, MosquittoBroker
from support.vigil import Vigil, VigilFactory, readable_by_others, wait_for
from vigil.timeutil import US, parse_iso

BACKPACK = REAL / "abandoned_backpack_indoor.mp4"


def _drained(listener: Listener) -> list[tuple[str, bytes]]:
    """What the listener has received so far, in order."""
    got = []
    while True:
        try:
            message = listener.messages.get_nowait()
        except queue.Empty:
            return got
        got.append((message.topic, message.payload))


def _camera_process(vigil: Vigil, name: str) -> psutil.Process | None:
    assert vigil.process is not None
    for child in psutil.Process(vigil.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = child.cmdline()
            if "vigil.runtime.camera" in command and command[-1] == name:
                return child
    return None


@needs(MODEL)
def test_camera_raises_intrusion_events_with_snapshots_and_mqtt(
    rtsp_server: RtspServerFactory,
    camera_clip: Path,
    vigil_factory: VigilFactory,
    mosquitto: MosquittoBroker,
) -> None:
    server = rtsp_server({"hall": camera_clip})
    listener = Listener(mosquitto, "vigil/#")
    whole = [[0, 0], [1, 0], [1, 1], [0, 1]]
    middle = {"points": [[0.5, 0], [0.5, 1]], "events": "none"}  # counts only
    vigil = vigil_factory(
        {"hall": {"main": server.url("hall"), "analysis": {"fps": 3},
                  "zones": {"floor": {"polygon": whole, "intrusion": {"objects": ["person"]}}},
                  "lines": {"middle": middle}, "tamper": True}},
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

    # One camera process dying (a crash, the watchdog) does not mark the node offline.
    killed = _camera_process(vigil, "hall")
    assert killed is not None
    killed.kill()
    restarted = wait_for(
        "the camera process restarted",
        lambda: (p := _camera_process(vigil, "hall")) and p.pid != killed.pid and p,
        60,
    )
    wait_for(
        "the camera online again",
        lambda: (
            parse_iso(vigil.camera("hall")["since"]) > restarted.create_time() * US
            and vigil.camera("hall")["state"] == "online"
        ),
        60,
    )
    around_the_kill = _drained(listener)
    assert ("vigil/available", b"offline") not in around_the_kill
    running = wait_for(
        "analysis figures", lambda: (vigil.camera("hall")["analysis"] or {}).get("fps"), 30
    )
    assert running > 0
    later: list[tuple[str, bytes]] = []

    def new_event_since_restart() -> bool:
        later.extend(_drained(listener))
        return any(t == "vigil/events" and json.loads(p)["type"] == "new" for t, p in later)

    wait_for("an event after the restart", new_event_since_restart, 90)
    time.sleep(10)
    assert vigil.stop() == 0

    def counted() -> bool:
        later.extend(_drained(listener))
        return any(t == "vigil/hall/counts" for t, _ in later)

    wait_for("the counts of the last interval", counted, 10)
    listener.close()
    # Stopping sends the end of every event still open before the client goes.
    updates = [json.loads(p) for t, p in later if t == "vigil/events"]
    opened = {m["after"]["id"] for m in updates if m["type"] == "new"}
    ended = {m["after"]["id"] for m in updates if m["type"] == "end"}
    assert opened and opened <= ended, f"no end on MQTT for {sorted(opened - ended)}"
    # Line counts are published, per line and interval: aggregates, never individuals.
    counts = [json.loads(p) for t, p in later if t == "vigil/hall/counts"]
    assert {c["line"] for c in counts} == {"middle"}
    assert all(set(c) == {"line", "start", "end", "in", "out"} for c in counts)
    crossings = sum(sum(c["in"].values()) + sum(c["out"].values()) for c in counts)
    assert crossings > 0, counts

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


@needs(MODEL, BACKPACK)
def test_analyze_finds_the_abandoned_backpack() -> None:
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
    assert unattended[0]["start"] >= 11.0  # not before the bag was put down
    assert not [e for e in report["events"] if e["type"] == "tamper"]


@needs(MODEL)
def test_low_power_mode_analyses_keyframes_only_and_still_raises_events(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
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


@needs(MODEL)
def test_vigil_run_gives_the_detector_service_every_detector_setting(
    rtsp_server: RtspServerFactory, camera_clip: Path, vigil_factory: VigilFactory
) -> None:
    """The service once got a hand-built argument list, and models_dir, nms_iou and
    input_size were lost on the way; now it reads the configuration itself."""
    server = rtsp_server({"hall": camera_clip})
    vigil = vigil_factory(
        {"hall": {"main": server.url("hall"), "analysis": {"fps": 1}, "tamper": True}},
        detector={"models_dir": str(MODEL.parent), "nms_iou": 0.6, "input_size": 320,
                  "score": 0.4, "workers": 1},
    )  # fmt: skip
    vigil.start()
    loaded = wait_for(
        "the detector service's model",
        lambda: next((e for e in vigil.logs() if e.get("msg") == "detector loaded"), None),
        60,
    )
    assert loaded["model"] == str(MODEL) and loaded["adapter"] == "yolox"
    assert (loaded["nms_iou"], loaded["input_size"], loaded["score"]) == (0.6, 320, 0.4)
    assert vigil.stop() == 0
