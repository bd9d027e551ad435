"""The supervisor: one process per camera, restarted with backoff, watched for hangs.

It also runs the retention janitor and publishes every camera's state to the
index database, where `vigil status` reads it.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import SQLAlchemyError

from vigil.config import VigilConfig
from vigil.events.availability import EVENT_TYPES as OWN_EVENT_TYPES
from vigil.events.availability import Availability
from vigil.events.store import EventStore
from vigil.media.source import OPEN_TIMEOUT
from vigil.runtime.backoff import Backoff
from vigil.runtime.service import ServiceProcess, detector_command
from vigil.storage.database import connect, migrate
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.reconcile import Reconciler
from vigil.storage.retention import Janitor
from vigil.storage.status import StatusStore
from vigil.timeutil import now_us

log = logging.getLogger(__name__)

STATUS_INTERVAL = 3.0  # seconds between hang checks and status writes
STABLE_AFTER = 60.0  # seconds of life after which a camera process's restart backoff resets
STOP_GRACE = 10.0
STATUS_FIELDS = (
    "state",
    "since_us",
    "last_packet_us",
    "codec",
    "width",
    "height",
    "fps",
    "bitrate",
    "error",
    "analysis_fps",
    "analysis_dropped",
    "analysis_lag",
)


@dataclass
class CameraProcess:
    name: str
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    last_report: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)
    buffer: bytes = b""
    restarts: int = 0


class Supervisor:
    def __init__(self, config: VigilConfig, config_path: Path) -> None:
        self.config = config
        self.config_path = config_path
        self.engine = connect(config.database_url())
        self.index = SegmentIndex(self.engine)
        self.status = StatusStore(self.engine)
        self.layout = Layout(config.storage.path)
        self.availability = Availability(config, self.engine)
        self.events = EventStore(self.engine, self.layout.snapshots)
        self.janitor = Janitor(config, self.index, self.status, expire_events=self.events.expire)
        self.cameras = {
            name: CameraProcess(name) for name, cam in config.cameras.items() if cam.enabled
        }
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.hang_after = config.ingest.stall_timeout + OPEN_TIMEOUT + 5.0
        self.detector = (
            ServiceProcess("detector", detector_command(config_path))
            if any(config.cameras[name].analytics() for name in self.cameras)
            else None
        )
        self.api = (
            ServiceProcess("api", [sys.executable, "-m", "vigil.api.server", str(config_path)])
            if config.api.enabled
            else None
        )
        self.services = [s for s in (self.detector, self.api) if s is not None]

    # -- life cycle ---------------------------------------------------------------------------
    def run(self) -> None:
        if self.layout.create():
            log.warning(
                "the storage was readable by other users; it is now private to Vigil's user",
                extra={"storage": str(self.layout.root)},
            )
        migrate(self.engine)
        Reconciler(self.layout, self.index).run()
        if ended := self.events.end_abandoned(self.config.cameras):
            log.warning("ended events left open by the previous run", extra={"events": ended})
        for name, cam in self.config.cameras.items():
            if not cam.enabled:
                self.status.put_cameras({name: {"state": "disabled", "since_us": now_us()}})
        janitor = threading.Thread(target=self._janitor_loop, name="janitor", daemon=True)
        janitor.start()
        log.info(
            "vigil running",
            extra={"cameras": len(self.cameras), "storage": str(self.config.storage.path)},
        )
        next_status = 0.0
        while not self.stopping.is_set():
            for service in self.services:
                service.tend()
            now = time.monotonic()
            for camera in self.cameras.values():
                if camera.process is None and now >= camera.restart_at:
                    self._spawn(camera)
            for key, _ in self.selector.select(timeout=1.0):
                self._read(key.data, key.fileobj)  # type: ignore[arg-type]
            if time.monotonic() >= next_status:
                self._watch(time.monotonic())
                self._publish()
                next_status = time.monotonic() + STATUS_INTERVAL
        self._shutdown()
        janitor.join(timeout=5)

    def stop(self, *_args: object) -> None:
        self.stopping.set()

    def _shutdown(self) -> None:
        live = [c for c in self.cameras.values() if c.process is not None]
        for camera in live:
            assert camera.process is not None
            camera.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for camera in live:
            assert camera.process is not None
            try:
                camera.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("camera process did not stop; killing it", extra={"camera": camera.name})
                camera.process.kill()
                camera.process.wait()
            self._drain(camera)
            camera.process = None
            camera.report.update(state="stopped", since_us=now_us())
        for service in self.services:
            service.stop(STOP_GRACE)
        self.availability.close()
        self._publish()
        log.info("vigil stopped")

    # -- camera processes ---------------------------------------------------------------------
    def _spawn(self, camera: CameraProcess) -> None:
        env = {**os.environ, "VIGIL_SUPERVISOR_PID": str(os.getpid())}
        camera.process = subprocess.Popen(
            [sys.executable, "-m", "vigil.runtime.camera", str(self.config_path), camera.name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert camera.process.stdout is not None
        os.set_blocking(camera.process.stdout.fileno(), False)
        self.selector.register(camera.process.stdout, selectors.EVENT_READ, camera)
        camera.started = camera.last_report = time.monotonic()
        camera.buffer = b""

    def _read(self, camera: CameraProcess, stream: IO[bytes]) -> None:
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._reap(camera)
            return
        camera.buffer += chunk
        *lines, camera.buffer = camera.buffer.split(b"\n")
        for line in lines:
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                log.warning("unreadable report from camera process", extra={"camera": camera.name})
                continue
            self._set(camera, report)
            camera.last_report = time.monotonic()

    def _set(self, camera: CameraProcess, report: dict[str, Any]) -> None:
        """Take a camera's new report; a change of state becomes an event and an MQTT status."""
        before = (camera.report.get("state"), camera.report.get("error"))
        camera.report.update(report)
        after = (camera.report.get("state"), camera.report.get("error"))
        if after != before and after[0] not in ("stopped", "starting", None):
            try:
                self.availability.on_state(camera.name, *after)
            except Exception as exc:
                log.error(
                    "cannot record a camera state change",
                    extra={"camera": camera.name, "error": str(exc)},
                )

    def _drain(self, camera: CameraProcess) -> None:
        if camera.process is not None and camera.process.stdout is not None:
            self.selector.unregister(camera.process.stdout)
            camera.process.stdout.close()

    def _reap(self, camera: CameraProcess) -> None:
        assert camera.process is not None
        code = camera.process.wait()
        self._drain(camera)
        camera.process = None
        try:
            # Its open events died with it; camera_offline events are the supervisor's own.
            self.events.end_abandoned([camera.name], keep=OWN_EVENT_TYPES)
        except SQLAlchemyError as exc:
            log.error(
                "cannot end a dead camera process's events",
                extra={"camera": camera.name, "error": str(exc)},
            )
        if self.stopping.is_set():
            return
        if time.monotonic() - camera.started > STABLE_AFTER:
            camera.backoff.reset()
        delay = camera.backoff.next()
        camera.restart_at = time.monotonic() + delay
        camera.restarts += 1
        error = f"camera process exited with code {code}; restarting in {delay:.1f} s"
        log.error(
            "camera process exited",
            extra={"camera": camera.name, "code": code, "restart_in_s": round(delay, 1)},
        )
        since = now_us() if camera.report.get("state") != "error" else camera.report["since_us"]
        self._set(camera, {"state": "error", "error": error, "since_us": since})

    def _watch(self, now: float) -> None:
        for camera in self.cameras.values():
            if camera.process is None:
                continue
            silent = now - camera.last_report
            stuck = float(camera.report.get("progress_age", 0.0)) + silent
            if silent > self.hang_after or stuck > self.hang_after:
                log.error(
                    "camera process hung; killing it",
                    extra={"camera": camera.name, "silent_s": round(silent, 1)},
                )
                camera.process.kill()  # the end of its stdout reaps and restarts it

    # -- status and retention -----------------------------------------------------------------
    def _publish(self) -> None:
        states = {}
        for camera in self.cameras.values():
            report = {k: camera.report.get(k) for k in STATUS_FIELDS}
            if report["state"] is None:
                report.update(state="starting", since_us=now_us())
            states[camera.name] = report
        try:
            self.status.put_cameras(states)
        except SQLAlchemyError as exc:
            # Status must never stop recording; a full disk under the index can fail this.
            log.error("cannot publish camera status", extra={"error": str(exc)})

    def _janitor_loop(self) -> None:
        while not self.stopping.wait(self.config.storage.janitor_interval):
            self.janitor.run_once()


def run_supervisor(config: VigilConfig, config_path: Path) -> None:
    supervisor = Supervisor(config, config_path)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    supervisor.run()
