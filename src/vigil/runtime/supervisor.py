"""The supervisor: keeps its children (runtime/children.py) alive and watches cameras for hangs.

It also runs the retention janitor and publishes every camera's state to the
index database, where `vigil status` reads it.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from vigil.audit import AuditRecord, open_audit_log
from vigil.audit.chains import sign_heads
from vigil.config import VigilConfig
from vigil.errors import AuditError
from vigil.events.availability import EVENT_TYPES as OWN_EVENT_TYPES
from vigil.events.availability import Availability
from vigil.events.store import EventStore
from vigil.media.source import OPEN_TIMEOUT
from vigil.runtime.children import ROLES, Child, LauncherGone, LauncherProcess
from vigil.storage.database import connect, migrate
from vigil.storage.evidence import HoldStore
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.storage.reconcile import Reconciler
from vigil.storage.retention import Erasure, Janitor
from vigil.storage.status import StatusStore
from vigil.timeutil import now_us

log = logging.getLogger(__name__)

STATUS_INTERVAL = 3.0  # seconds between hang checks and status writes
STOP_GRACE = 10.0
CHAIN_SIGN_S = 600.0  # seconds between audit records of the segment chains' heads
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
class CameraProcess(Child):
    """A camera child with what its reports have said so far."""

    last_report: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)
    buffer: bytes = b""


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
        self.audit_log = open_audit_log(config, self.engine)
        self._chain_heads: dict[str, tuple[int, str]] = {}
        self.janitor = Janitor(
            config, self.index, self.status, expire_events=self.events.expire,
            expire_holds=lambda: HoldStore(self.engine).expire(self._audit_system),
            record_erasures=self._audit_erasure,
        )  # fmt: skip
        self.cameras = {
            name: CameraProcess("camera", name, (name,))
            for name, cam in config.cameras.items()
            if cam.enabled
        }
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.hang_after = config.ingest.stall_timeout + OPEN_TIMEOUT + 5.0
        self.launcher = LauncherProcess("launcher", "launcher")
        self.services: list[Child] = []
        if any(config.cameras[name].analytics() for name in self.cameras):
            self.services.append(Child("detector", "detector"))
        if config.api.enabled:  # exports are asked for through the API
            self.services.extend([Child("api", "api"), Child("exporter", "exporter")])
        if config.federation is not None:
            work = "uplink" if config.federation.role == "site" else "ingest"
            self.services.extend([Child("nats", "nats"), Child(work, work)])
        self.children: list[Child] = [self.launcher, *self.cameras.values(), *self.services]

    def _audit_system(self, connection: Connection, action: str, detail: Mapping[str, Any]) -> int:
        """The audit record of something Vigil did by itself (a hold expiring), in the
        transaction of the change."""
        cameras = [str(detail["camera"])] if "camera" in detail else []
        record = AuditRecord("vigil", "system", action, "ok", "vigil", cameras, detail=detail)
        return self.audit_log.append(record, connection).seq

    def _audit_erasure(self, erasure: Erasure) -> None:
        """One record per camera and retention pass: the range erased and why, so an overseer
        can tell footage erased on schedule from footage that is missing."""
        detail = {"segments": erasure.segments, "bytes": erasure.bytes,
                  "rules": sorted(erasure.rules)}  # fmt: skip
        self.audit_log.append(AuditRecord("vigil", "system", "retention.erase", "ok", "vigil",
                                          [erasure.camera], erasure.since_us, erasure.until_us,
                                          detail=detail))  # fmt: skip

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
            self._tend()
            for key, _ in self.selector.select(timeout=1.0):
                self._read(key.data, key.fileobj)  # type: ignore[arg-type]
            if time.monotonic() >= next_status:
                self._watch(time.monotonic())
                self._publish()
                next_status = time.monotonic() + STATUS_INTERVAL
        self._shutdown()
        janitor.join(timeout=5)
        self._sign_chains()  # the cameras have closed and indexed their last segments

    def stop(self, *_args: object) -> None:
        self.stopping.set()

    def _shutdown(self) -> None:
        # Cameras first: their last events still reach the detector service and the index;
        # the launcher last, for it reaps the cameras.
        for group in (list(self.cameras.values()), self.services, [self.launcher]):
            for child in group:
                child.terminate()
            deadline = time.monotonic() + STOP_GRACE
            for child in group:
                if not child.wait(deadline):
                    log.error("child did not stop; killed it", extra=child.labels())
                self._drain(child)
                child.process = None
        for camera in self.cameras.values():
            camera.report.update(state="stopped", since_us=now_us())
        self.availability.close()
        self._publish()
        log.info("vigil stopped")

    # -- children -----------------------------------------------------------------------------
    def _tend(self) -> None:
        """Notice children that exited, and start those that are due."""
        for child in self.children:
            if child.process is not None and (code := child.process.poll()) is not None:
                self._reap(child, code)
            if self.stopping.is_set() or not child.due(time.monotonic()):
                continue
            if ROLES[child.role].forked and self.launcher.link is None:
                continue  # it waits for the launcher's restart
            try:
                process = child.start(self.config_path, self.launcher)
            except LauncherGone as exc:
                log.error("cannot start a child", extra={**child.labels(), "error": str(exc)})
                child.exited()
                continue
            if isinstance(child, CameraProcess):
                assert process.stdout is not None
                os.set_blocking(process.stdout.fileno(), False)
                self.selector.register(process.stdout, selectors.EVENT_READ, child)
                child.last_report, child.buffer = child.started, b""

    def _read(self, camera: CameraProcess, stream: IO[bytes]) -> None:
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return
        if not chunk:
            assert camera.process is not None
            self._reap(camera, camera.process.wait())
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

    def _drain(self, child: Child) -> None:
        if child.process is not None and child.process.stdout is not None:
            self.selector.unregister(child.process.stdout)
            child.process.stdout.close()

    def _reap(self, child: Child, code: int) -> None:
        self._drain(child)
        delay = child.exited()
        log.error(
            "child exited; restarting",
            extra={**child.labels(), "code": code, "restart_in_s": round(delay, 1)},
        )
        if isinstance(child, CameraProcess):
            error = f"camera process exited with code {code}; restarting in {delay:.1f} s"
            self._camera_died(child, error)

    def _camera_died(self, camera: CameraProcess, error: str) -> None:
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
        signed_at = 0.0
        while not self.stopping.wait(self.config.storage.janitor_interval):
            self.janitor.run_once()
            if time.monotonic() - signed_at >= CHAIN_SIGN_S:
                self._sign_chains()
                signed_at = time.monotonic()

    def _sign_chains(self) -> None:
        """Put the segment chains' heads into the audit trail (and sign it); a failure is
        logged and retried on the next occasion."""
        try:
            self._chain_heads = sign_heads(self.audit_log, self.engine, self._chain_heads)
        except (AuditError, SQLAlchemyError) as exc:
            log.error("cannot record the segment chains' heads", extra={"error": str(exc)})


def run_supervisor(config: VigilConfig, config_path: Path) -> None:
    supervisor = Supervisor(config, config_path)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    supervisor.run()
