"""The detector service: one model session per machine, shared by every camera process.

Camera processes connect over a Unix socket and send crops; the service queues the requests of
all cameras and feeds them through the one session back to back, so the model never waits for
a camera and no camera loads its own copy. Letterboxing and decoding run on each connection's
thread, overlapping with inference on the session thread.

Wire format (no pickle, so a client can never make the service run code); every message is
an 8-byte big-endian length, then that many bytes:
    request:  JSON {"timeout": s, "classes": [...] | null, "shapes": [[h, w], ...]},
              then one message per crop: its raw bytes, uint8 BGR, h x w x 3, C order
    reply:    JSON {"detections": [[[label, score, x1, y1, x2, y2], ...], ...]} or {"error": msg}

A request not started before its timeout is dropped (its camera has moved on). The client
raises DetectorTimeout or DetectorUnavailable so the camera drops the frame: recording never
waits for analysis. It reconnects by itself when the service comes back.

Run by the supervisor as
    python -m vigil.analytics.detection.service --address PATH [--storage DIR] [--model M]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vigil.analytics.detection.base import (
    DetectionError,
    Detector,
    OnnxDetector,
)
from vigil.analytics.detection.factory import DEFAULT_STORAGE, load_detector
from vigil.analytics.types import Detection
from vigil.box import Box
from vigil.config import load_config
from vigil.errors import VigilError
from vigil.lifeline import bind_to_supervisor
from vigil.logs import setup_logging
from vigil.settings.detector import DetectorSettings
from vigil.storage.layout import Layout

log = logging.getLogger(__name__)

MAX_BATCH = 8  # crops stacked into one run when the model's batch is dynamic
MAX_CROPS = 64  # per request
MAX_SIDE = 4096  # pixels, per crop side
MAX_MESSAGE = MAX_SIDE * MAX_SIDE * 3 + 1
DEFAULT_TIMEOUT = 2.0  # seconds: later than this a detection is no use to a live camera
ACCEPT_POLL = 0.5  # seconds between checks of the stop flag
LENGTH = struct.Struct("!Q")


class DetectorTimeout(DetectionError):
    """The detector did not answer in time; the frame should be dropped."""


class DetectorUnavailable(DetectionError):
    """The detector service cannot be reached; the frame should be dropped."""


@dataclass
class Job:
    """One request's crops waiting for the session."""

    deadline: float
    blobs: list[np.ndarray] = field(default_factory=list)  # ONNX: prepared inputs
    images: list[np.ndarray] = field(default_factory=list)  # other detectors: the crops
    classes: Collection[str] | None = None
    outputs: list[Any] | None = None
    error: Exception | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class DetectorService:
    """The one session and its queue; `detect` is safe from any thread, `serve` listens."""

    def __init__(self, detector: Detector, workers: int = 1) -> None:
        self.detector = detector
        self.onnx = detector if isinstance(detector, OnnxDetector) else None
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.served = 0  # crops run through the model
        self.expired = 0  # requests dropped because their caller had given up
        self._counting = threading.Lock()
        # Runs of one session in parallel, each on one core (the session is thread-safe and
        # frees the GIL): cores the cameras leave idle become detections instead of queueing.
        self._workers = [
            threading.Thread(target=self._work, name=f"detector-{n}", daemon=True)
            for n in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def detect(
        self,
        images: list[np.ndarray],
        classes: Collection[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[list[Detection]]:
        if not images:
            return []
        deadline = time.monotonic() + timeout
        if self.onnx is not None:
            prepared = [self.onnx.prepare(image) for image in images]
            self.onnx.class_ids(classes)  # unknown classes fail here, not on the session thread
            job = Job(deadline, blobs=[p.blob for p in prepared])
        else:
            job = Job(deadline, images=images, classes=classes)
        self.queue.put(job)
        if not job.done.wait(max(0.0, deadline - time.monotonic())):
            job.cancelled = True
            raise DetectorTimeout(
                f"detector: no answer within {timeout:.1f} s ({len(images)} crop(s)); "
                "the frame is dropped"
            )
        if job.error is not None:
            raise job.error
        assert job.outputs is not None
        if self.onnx is None:
            return job.outputs
        return [self.onnx.decode(o, p, classes) for o, p in zip(job.outputs, prepared, strict=True)]

    def _take(self) -> list[Job] | None:
        """The next jobs to run: one, or as many as fill a batch when the model stacks them."""
        first = self.queue.get()
        if first is None:
            return None
        jobs = [first]
        if self.onnx is not None and self.onnx.dynamic_batch:
            while sum(len(j.blobs) for j in jobs) < MAX_BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)
                    break
                jobs.append(more)
        return jobs

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            now = time.monotonic()
            live = []
            for job in jobs:
                if job.cancelled or job.deadline <= now:
                    with self._counting:
                        self.expired += 1
                    job.error = DetectorTimeout("detector: request expired in the queue")
                    job.done.set()
                else:
                    live.append(job)
            try:
                self._run(live)
            except Exception as exc:  # one bad request must not kill the session thread
                log.exception("detection failed")
                for job in live:
                    job.error = DetectionError(f"detector: {exc}")
            for job in live:
                job.done.set()

    def _run(self, jobs: list[Job]) -> None:
        if self.onnx is None:
            for job in jobs:
                job.outputs = self.detector.detect(job.images, job.classes)
                self._count(len(job.images))
            return
        blobs = [blob for job in jobs for blob in job.blobs]
        outputs = self.onnx.infer(blobs)
        self._count(len(blobs))
        start = 0
        for job in jobs:
            job.outputs = outputs[start : start + len(job.blobs)]
            start += len(job.blobs)

    def _count(self, crops: int) -> None:
        with self._counting:
            self.served += crops

    def serve(self, address: Path) -> None:
        """Answer clients on a Unix socket at `address` until stop() is called."""
        with contextlib.suppress(FileNotFoundError):
            address.unlink()  # a socket left by a killed predecessor
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                server.bind(str(address))
            except OSError as exc:
                raise DetectionError(
                    f"detector service: cannot listen on {address} ({exc}); the path must be "
                    "writable and shorter than 108 bytes"
                ) from exc
            os.chmod(address, 0o600)  # only the camera processes, which run as Vigil's user
            server.listen(64)
            server.settimeout(ACCEPT_POLL)
            log.info("detector service listening", extra={"address": str(address)})
            while not self.stopping.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                threading.Thread(target=self._answer, args=(client,), daemon=True).start()
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                address.unlink()

    def _answer(self, conn: socket.socket) -> None:
        """One client's requests, one at a time, until it hangs up."""
        with conn:
            while not self.stopping.is_set():
                try:
                    header = json.loads(receive(conn))
                    timeout, classes, shapes = _parse_header(header)
                    crops = [_crop(receive(conn), shape) for shape in shapes]
                except (EOFError, OSError):
                    return  # the camera went away, perhaps mid-request: nothing to answer
                except (ValueError, TypeError, KeyError) as exc:
                    _reply(conn, {"error": f"bad request: {exc}"})
                    return  # the stream is out of step; the client reconnects
                try:
                    found = self.detect(crops, classes, timeout)
                    reply: dict[str, Any] = {"detections": [_encode(d) for d in found]}
                except DetectionError as exc:
                    reply = {"error": str(exc), "timeout": isinstance(exc, DetectorTimeout)}
                if not _reply(conn, reply):
                    return

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.stop()
        for _ in self._workers:
            self.queue.put(None)
        for worker in self._workers:
            worker.join(timeout=5)


def _parse_header(header: Any) -> tuple[float, list[str] | None, list[tuple[int, int]]]:
    timeout = float(header["timeout"])
    classes = header.get("classes")
    if classes is not None and not all(isinstance(c, str) for c in classes):
        raise ValueError("classes must be a list of names")
    shapes = [(int(h), int(w)) for h, w in header["shapes"]]
    if len(shapes) > MAX_CROPS or any(not (0 < s <= MAX_SIDE) for hw in shapes for s in hw):
        raise ValueError(f"at most {MAX_CROPS} crops of at most {MAX_SIDE} pixels a side")
    return timeout, classes, shapes


def send(sock: socket.socket, data: bytes | memoryview) -> None:
    view = memoryview(data).cast("B")
    sock.sendall(LENGTH.pack(len(view)))
    sock.sendall(view)


def receive(sock: socket.socket, limit: int = MAX_MESSAGE) -> bytearray:
    """One message; EOFError when the peer hung up, ValueError when it is oversized."""
    (size,) = LENGTH.unpack(_exactly(sock, LENGTH.size))
    if size > limit:
        raise ValueError(f"message of {size} bytes is over the limit of {limit}")
    return _exactly(sock, size)


def _exactly(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the peer hung up")
        got += count
    return buffer


def _crop(data: bytearray, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    if len(data) != height * width * 3:
        raise ValueError(f"crop of {len(data)} bytes is not {height}x{width}x3")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def _encode(found: list[Detection]) -> list[list[Any]]:
    return [[d.label, d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in found]


def _reply(conn: socket.socket, reply: dict[str, Any]) -> bool:
    try:
        send(conn, json.dumps(reply).encode())
    except OSError:
        return False
    return True


class DetectorClient:
    """A camera's handle on the service; not thread-safe (one per camera process)."""

    def __init__(self, address: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.address))
            except OSError as exc:
                sock.close()
                raise DetectorUnavailable(
                    f"detector service at {self.address}: {exc.strerror or exc}; the frame is "
                    "dropped (is `vigil run` up?)"
                ) from exc
            self._sock = sock
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def detect(
        self,
        crops: list[np.ndarray],
        classes: Collection[str] | None = None,
        timeout: float | None = None,
    ) -> list[list[Detection]]:
        """Detections per crop (uint8 BGR); raises DetectorTimeout or DetectorUnavailable."""
        if not crops:
            return []
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        crops = [np.ascontiguousarray(c, dtype=np.uint8) for c in crops]
        header = {
            "timeout": timeout,
            "classes": None if classes is None else sorted(classes),
            "shapes": [list(c.shape[:2]) for c in crops],
        }
        for attempt in (1, 2):
            sock = self._connect()
            try:
                sock.settimeout(max(1e-6, deadline - time.monotonic()))
                send(sock, json.dumps(header).encode())
                for crop in crops:
                    send(sock, crop.data)
                sock.settimeout(max(1e-6, deadline - time.monotonic()))
                reply = json.loads(receive(sock))
                break
            except TimeoutError:
                # A late reply would be read as the next request's: start afresh instead.
                self.close()
                raise DetectorTimeout(
                    f"detector service at {self.address}: no answer within {timeout:.1f} s; "
                    "the frame is dropped"
                ) from None
            except (EOFError, OSError) as exc:
                # The service restarted since the last request: one fresh connection is tried.
                self.close()
                if attempt == 2 or time.monotonic() >= deadline:
                    raise DetectorUnavailable(
                        f"detector service at {self.address}: connection lost ({exc}); "
                        "the frame is dropped"
                    ) from exc
        if "error" in reply:
            error = DetectorTimeout if reply.get("timeout") else DetectionError
            raise error(f"detector service at {self.address}: {reply['error']}")
        return [
            [Detection(label, score, Box(x1, y1, x2, y2)) for label, score, x1, y1, x2, y2 in crop]
            for crop in reply["detections"]
        ]


def run_service(
    settings: DetectorSettings, address: Path, storage_path: Path = DEFAULT_STORAGE
) -> None:
    """Load the detector and answer clients until SIGTERM or SIGINT."""
    service = DetectorService(load_detector(settings, storage_path), settings.workers)

    def stop(_signum: int, _frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        service.serve(address)
    finally:
        service.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigil.analytics.detection.service")
    parser.add_argument("config", type=Path, help="the configuration: detector and storage")
    parser.add_argument("--address", type=Path, help="Unix socket path (default: the storage's)")
    args = parser.parse_args(argv)
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    if not bind_to_supervisor():
        return 0
    try:
        config = load_config(args.config)
        address = args.address or Layout(config.storage.path).detector_socket
        run_service(config.detector, address, config.storage.path)
    except VigilError as exc:
        log.error("detector service failed", extra={"error": str(exc)})
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
