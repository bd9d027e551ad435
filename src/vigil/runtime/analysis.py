"""A camera's live analysis, on a thread beside its recording, never slowing it down.

Pictures come from the sub stream over its own connection when the camera has one, else
from the recorder's own packets (copied before they are muxed; no second connection to the
camera). The recorder hands packets over without waiting: when analysis falls behind, the
queue is full, packets are dropped (counted, shown in status) and decoding resumes at the next
keyframe. Only pictures due at the analysis rate are converted and handed to the analysing
thread (a picture waiting for the shared detector does not stop decoding; when the pipeline
falls a second behind, pictures are dropped and counted too); in low-power mode only
keyframes are decoded at all.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np

from vigil.analytics.detection.base import Detector
from vigil.analytics.picture import analysis_picture
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.errors import SourceError
from vigil.events.payload import counts_json
from vigil.events.sink import EventSink
from vigil.media.clock import MediaClock
from vigil.media.source import Source
from vigil.runtime.backoff import Backoff
from vigil.settings.analytics import CameraAnalytics
from vigil.timeutil import US, now_us

log = logging.getLogger(__name__)

QUEUE_SECONDS = 2.0  # of packets waiting for analysis before they are dropped
PICTURES_SECONDS = 1.0  # of decoded pictures waiting for the pipeline before they are dropped
COUNTS_INTERVAL_US = 60 * US  # line counts are published per minute of footage
MICROSECONDS = Fraction(1, US)


class LiveAnalysis:
    def __init__(
        self,
        camera: str,
        settings: CameraAnalytics,
        detector: Detector,
        sink: EventSink,
        sub_source: Callable[[], Source] | None = None,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.detector = detector
        self.sink = sink
        self.sub_source = sub_source
        self.keyframes_only = settings.analysis.keyframes_only
        self.period_us = int(US / settings.analysis.fps)
        self._queue: queue.Queue[tuple[int, bytes, bool, int] | None] = queue.Queue(
            maxsize=max(8, int(QUEUE_SECONDS * 30))
        )
        self._sequence = 0
        self._codec: tuple[str, bytes | None] | None = None
        self._pipeline: AnalysisPipeline | None = None
        self._counts_from_us: int | None = None  # start of the counts interval under way
        self._next_due = 0
        self._stopping = threading.Event()
        # Decoding and analysing run on two threads, so the stream keeps being decoded while a
        # picture waits for the shared detector; the pictures in between wait here.
        self._pictures: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(
            maxsize=max(2, int(PICTURES_SECONDS * settings.analysis.fps))
        )
        self._thread = threading.Thread(target=self._run, name=f"decode-{camera}", daemon=True)
        self._analyser = threading.Thread(
            target=self._analyse_pictures, name=f"analysis-{camera}", daemon=True
        )
        self.dropped = 0
        self.analysed = 0
        self.lag_s: float | None = None
        self._rate: list[float] = []

    # -- the recorder's side ------------------------------------------------------------------
    def begin(self, stream: av.VideoStream) -> None:
        """A new connection of the main stream: decoding restarts from its parameters."""
        if self.sub_source is None:
            self._codec = (stream.codec_context.name, stream.codec_context.extradata)
            self._offer(None)

    def offer(self, packet: av.Packet, media_us: int) -> None:
        """Called for every recorded packet, before it is muxed; never blocks."""
        if self.sub_source is not None or (self.keyframes_only and not packet.is_keyframe):
            return
        self._sequence += 1
        self._offer((self._sequence, bytes(packet), packet.is_keyframe, media_us))

    def _offer(self, item: tuple[int, bytes, bool, int] | None) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._analyser.start()

    def stop(self) -> None:
        """Stop analysing; events still open end now, since nobody watches any more, and the
        counts of the interval under way are published. Then the sink sends what it holds."""
        self._stopping.set()
        self._offer(None)
        self._thread.join(timeout=5)
        self._pictures.put(None)
        self._analyser.join(timeout=5)
        if self._pipeline is not None and not self._analyser.is_alive():
            end_us = now_us()
            for update in self._pipeline.close(end_us):
                self.sink.emit(update)
            self._publish_counts(self._pipeline, end_us)
        self.sink.close()

    def _publish_counts(self, pipeline: AnalysisPipeline, end_us: int) -> None:
        """The line crossings of [the interval's start, end_us), then a new interval."""
        start_us, self._counts_from_us = self._counts_from_us, end_us
        if not self.settings.lines or start_us is None:
            return
        crossings = pipeline.rules.drain_counts(end_us)
        for report in counts_json(self.settings.lines, crossings, start_us, end_us):
            self.sink.counts(self.camera, report)

    def report(self) -> dict[str, float | int | None]:
        now = time.monotonic()
        self._rate = [t for t in self._rate if now - t <= 10]
        return {
            "analysis_fps": len(self._rate) / 10,
            "analysis_dropped": self.dropped,
            "analysis_lag": self.lag_s,
        }

    # -- the analysis thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.sub_source is not None:
                self._run_sub()
            else:
                self._run_main()
        except Exception:
            log.exception("analysis stopped by an error", extra={"camera": self.camera})

    def _run_main(self) -> None:
        decoder = None
        expected = None
        while not self._stopping.is_set():
            item = self._queue.get()
            if item is None:  # a new connection (or stop)
                decoder, expected = None, None
                continue
            sequence, data, keyframe, media_us = item
            if expected is not None and sequence != expected:
                decoder = None  # packets were dropped: wait for the next keyframe
            expected = sequence + 1
            if decoder is None:
                if not keyframe or self._codec is None:
                    continue
                decoder = self._decoder(*self._codec)
            packet = av.Packet(data)
            packet.pts = packet.dts = media_us
            packet.time_base = MICROSECONDS
            self._decode(decoder, packet)

    def _run_sub(self) -> None:
        assert self.sub_source is not None
        backoff = Backoff(1.0, 30.0)
        while not self._stopping.is_set():
            source = self.sub_source()
            clock = MediaClock(self.camera, None, 1 / 15)
            try:
                info = source.open()
                assert source.stream is not None
                decoder = self._decoder(info.codec, source.stream.codec_context.extradata)
                for packet in source.packets():
                    media_us = clock.stamp(
                        None if packet.dts is None else float(packet.dts * packet.time_base)
                    )
                    if self.keyframes_only and not packet.is_keyframe:
                        continue
                    packet.pts = packet.dts = media_us
                    packet.time_base = MICROSECONDS
                    self._decode(decoder, packet)
                    backoff.reset()
                    if self._stopping.is_set():
                        return
            except SourceError as exc:
                log.warning("sub stream lost", extra={"camera": self.camera, "error": str(exc)})
            finally:
                source.close()
            self._stopping.wait(backoff.next())

    def _decoder(self, codec: str, extradata: bytes | None) -> av.CodecContext:
        decoder = av.CodecContext.create(codec, "r")
        if extradata:
            decoder.extradata = extradata
        if self.keyframes_only:
            decoder.skip_frame = "NONKEY"
        return decoder

    def _decode(self, decoder: av.CodecContext, packet: av.Packet) -> None:
        try:
            frames = decoder.decode(packet)
        except av.error.FFmpegError:
            return  # a damaged packet; the next keyframe repairs the picture
        for frame in frames:
            ts_us = int(frame.pts) if frame.pts is not None else now_us()
            if ts_us < self._next_due:
                continue
            self._next_due = max(self._next_due + self.period_us, ts_us - self.period_us)
            try:
                self._pictures.put_nowait((ts_us, analysis_picture(frame)))
            except queue.Full:
                self.dropped += 1

    def _analyse_pictures(self) -> None:
        try:
            while (item := self._pictures.get()) is not None:
                self._analyse(*item)
        except Exception:
            log.exception("analysis stopped by an error", extra={"camera": self.camera})

    def _analyse(self, ts_us: int, picture: np.ndarray) -> None:
        height, width = picture.shape[:2]
        pipeline = self._pipeline
        if pipeline is None or (pipeline.width, pipeline.height) != (width, height):
            if pipeline is not None:
                self._publish_counts(pipeline, ts_us)
            pipeline = self._pipeline = AnalysisPipeline(
                self.camera, self.settings, self.detector, width, height
            )
        updates = pipeline.process(ts_us, picture)
        if self._counts_from_us is None:
            self._counts_from_us = ts_us
        elif ts_us >= (due := self._counts_from_us + COUNTS_INTERVAL_US):
            # After an outage longer than an interval, one report covers the gap.
            self._publish_counts(pipeline, due if ts_us < due + COUNTS_INTERVAL_US else ts_us)
        self.analysed += 1
        self._rate.append(time.monotonic())
        self.lag_s = max(0.0, (now_us() - ts_us) / US)
        for update in updates:
            self.sink.emit(update, picture)
