"""One camera's recording process: connect, record, reconnect, report.

Run by the supervisor as `python -m vigil.runtime.camera CONFIG CAMERA`. It
reports its state as one JSON object per line on stdout; logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from vigil.config import VigilConfig, load_config
from vigil.errors import RecordingError, SourceError, SourceOffline, VigilError
from vigil.lifeline import bind_to_supervisor
from vigil.logs import setup_logging
from vigil.media.clock import MediaClock
from vigil.media.recorder import DiskFull, Recorder
from vigil.media.source import Source, StreamInfo
from vigil.runtime.backoff import Backoff
from vigil.runtime.stats import StreamStats
from vigil.storage.database import connect
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout, free_and_total
from vigil.storage.reconcile import Reconciler
from vigil.timeutil import US, now_us

if TYPE_CHECKING:
    from vigil.runtime.analysis import LiveAnalysis

log = logging.getLogger(__name__)

REPORT_INTERVAL = 2.0  # seconds; states are also reported at once on every change
DISK_FULL_RETRY = 2.0
DEFAULT_INTERVAL = 1 / 15  # until the stream says its frame rate


def keyframe_size(packet: av.Packet, codec: str) -> tuple[int, int] | None:
    """Decode one keyframe on its own to learn the picture size after a parameter change."""
    context = av.CodecContext.create(codec, "r")
    try:
        frames = context.decode(packet) + context.decode(None)
    except av.error.FFmpegError:
        return None
    return (frames[0].width, frames[0].height) if frames else None


class CameraWorker:
    def __init__(self, config: VigilConfig, name: str) -> None:
        self.config = config
        self.name = name
        self.camera = config.cameras[name]
        self.stopping = False
        self.progress = time.monotonic()
        self.stats = StreamStats()
        self.report: dict[str, Any] = {"state": "starting", "since_us": now_us()}
        self._out_lock = threading.Lock()
        self.analysis: LiveAnalysis | None = None

    def set_state(self, state: str, error: str | None = None) -> None:
        if state != self.report["state"] or error != self.report.get("error"):
            log.info("camera state", extra={"camera": self.name, "state": state, "error": error})
            if state != self.report["state"]:
                self.report["since_us"] = now_us()
            self.report.update(state=state, error=error)
            self.emit()

    def emit(self) -> None:
        fps, bitrate = self.stats.fps_and_bitrate()
        message = {
            **self.report,
            "fps": fps,
            "bitrate": bitrate,
            "progress_age": time.monotonic() - self.progress,
        }
        if self.analysis is not None:
            message.update(self.analysis.report())
        with self._out_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def _report_loop(self) -> None:
        while not self.stopping:
            time.sleep(REPORT_INTERVAL)
            self.emit()

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            self.progress = time.monotonic()
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def run(self) -> None:
        layout = Layout(self.config.storage.path)
        index = SegmentIndex(connect(self.config.database_url()))
        reconciler = Reconciler(layout, index)
        # A restarted process may have left its last segment without a row.
        reconciler.run([self.name], recent_days=2)
        recorder = Recorder(
            self.name,
            layout,
            index,
            self.config.record_for(self.name).segment_seconds,
            reconciler.recover,
            self._resize,
            self._room_to_record,
        )
        backoff = Backoff(1.0, self.config.ingest.backoff_max)
        self._start_analysis(index.engine)
        threading.Thread(target=self._report_loop, daemon=True).start()
        while not self.stopping:
            self.progress = time.monotonic()
            source = Source(
                self.name,
                self.camera.main,
                self.config.transport(self.name),
                self.config.ingest.stall_timeout,
            )
            try:
                self._record(source, recorder, index, backoff)
            except SourceOffline as exc:
                self.set_state("offline", str(exc))
            except DiskFull as exc:
                self.set_state("error", str(exc))
                backoff.reset()
            except (SourceError, RecordingError) as exc:
                self.set_state("error", str(exc))
            finally:
                source.close()
            if not self.stopping:
                self.stats.clear()
                self._pause(backoff.next())
        self.set_state("stopped")
        if self.analysis is not None:
            self.analysis.stop()

    def _start_analysis(self, engine: Engine) -> None:
        """Analysis, for the cameras that use it (its libraries cost memory)."""
        analytics = self.camera.analytics()
        if analytics is None:
            return
        from vigil.events.sink import EventSink

        sink = EventSink(self.config, engine, f"vigil-{self.name}")
        from vigil.analytics.detection.service import DetectorClient
        from vigil.runtime.analysis import LiveAnalysis

        sub = self.camera.sub
        transport = self.config.transport(self.name)
        timeout = self.config.ingest.stall_timeout
        self.analysis = LiveAnalysis(
            self.name,
            analytics,
            DetectorClient(Layout(self.config.storage.path).detector_socket),
            sink,
            (lambda: Source(self.name, sub, transport, timeout)) if sub else None,
        )
        self.analysis.start()

    def _record(
        self, source: Source, recorder: Recorder, index: SegmentIndex, backoff: Backoff
    ) -> None:
        clock = MediaClock(self.name, index.last_end(self.name), DEFAULT_INTERVAL)
        info = source.open()
        assert source.stream is not None
        self._describe(info)
        if info.fps:
            clock.interval = 1 / info.fps
        recorder.begin(source.stream)
        if self.analysis is not None:
            self.analysis.begin(source.stream)
        media_us = None
        seconds_per_tick = float(info.time_base)
        try:
            for packet in source.packets():
                now = time.monotonic()
                self.progress = now
                dts = None if packet.dts is None else packet.dts * seconds_per_tick
                media_us = clock.stamp(dts)
                size = packet.size
                if self.analysis is not None:
                    self.analysis.offer(packet, media_us)  # before muxing takes the data
                recorder.write(packet, media_us)
                self.stats.add(media_us / US, size)
                self.report["last_packet_us"] = media_us
                if self.report["state"] != "online":
                    backoff.reset()
                    self.set_state("online")
                if self.stopping:
                    break
            else:
                raise SourceOffline(self.name, "the stream ended")
        finally:
            recorder.close(None if media_us is None else media_us + int(clock.interval * US))

    def _describe(self, info: StreamInfo) -> None:
        self.report.update(codec=info.codec, width=info.width, height=info.height)

    def _room_to_record(self) -> bool:
        """Below half the free-space floor retention has nothing left to delete: stop writing
        video, so the index keeps room for its rows and the storage alarm."""
        free, total = free_and_total(self.config.storage.path)
        return free >= self.config.storage.min_free.floor_bytes(total) // 2

    def _resize(self, packet: av.Packet) -> None:
        size = keyframe_size(packet, str(self.report.get("codec", "h264")))
        if size and size != (self.report.get("width"), self.report.get("height")):
            log.info("picture size changed", extra={"camera": self.name, "size": size})
            self.report.update(width=size[0], height=size[1])


def main(argv: list[str]) -> int:
    config_path, name = Path(argv[0]), argv[1]
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"), camera=name)
    if not bind_to_supervisor():
        return 0
    worker: CameraWorker | None = None

    def stop(_signum: int, _frame: object) -> None:
        if worker is not None:
            worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        worker = CameraWorker(load_config(config_path), name)
        worker.run()
    except VigilError as exc:
        log.error("camera process failed", extra={"camera": name, "error": str(exc)})
        return 2
    except SQLAlchemyError as exc:
        # Typically a full disk under the index. The supervisor restarts this process,
        # whose start-up reconciliation indexes the segment that could not be recorded.
        log.error("cannot write the index; restarting", extra={"camera": name, "error": str(exc)})
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
