"""`vigil analyze`: the live pipeline run over a video file as fast as the machine allows.

For investigators who receive footage, and for evaluation. Times in the answer are seconds
from the start of the video.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

from vigil.analytics.detection.base import Detector
from vigil.analytics.picture import analysis_picture
from vigil.analytics.pipeline import AnalysisPipeline
from vigil.errors import SourceError
from vigil.events.model import Event
from vigil.events.payload import event_json
from vigil.settings.analytics import CameraAnalytics
from vigil.timeutil import US

# Without a configuration: the checks that need no knowledge of the scene. An investigator's
# clip is short, so an object left alone for 15 s is already worth a look.
DEFAULT_ANALYTICS = {"tamper": True, "unattended_object": {"seconds": 15}}


def default_analytics() -> CameraAnalytics:
    return CameraAnalytics.model_validate(DEFAULT_ANALYTICS)


def clip_seconds(ts_us: int | None) -> float | None:
    """A time in a clip, as seconds from its start: what `vigil analyze` reports."""
    return None if ts_us is None else round(ts_us / US, 3)


def sampled_pictures(
    frames: Iterator[av.VideoFrame], fps: float
) -> Iterator[tuple[int, np.ndarray]]:
    """(µs from the start, analysis picture) for the frames due at `fps`, as the camera does."""
    period_us = int(US / fps)
    next_due = 0
    for frame in frames:
        if frame.time is None:
            continue
        ts_us = int(frame.time * US)
        if ts_us < next_due:
            continue
        next_due = max(next_due + period_us, ts_us - period_us)
        yield ts_us, analysis_picture(frame)


def analyze_video(
    path: Path, settings: CameraAnalytics, detector: Detector, camera: str = "video"
) -> dict[str, Any]:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(camera, f"cannot read {path}: {exc}; give a video file") from exc
    with container:
        if not container.streams.video:
            raise SourceError(camera, f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if settings.analysis.keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        pipeline: AnalysisPipeline | None = None
        events: dict[str, Event] = {}
        size = (0, 0)
        for ts_us, picture in sampled_pictures(container.decode(stream), settings.analysis.fps):
            size = (picture.shape[1], picture.shape[0])
            if pipeline is None or (pipeline.width, pipeline.height) != size:
                pipeline = AnalysisPipeline(camera, settings, detector, *size, live=False)
            for update in pipeline.process(ts_us, picture):
                events[update.event.id] = update.event
    described = sorted(
        (event_json(e, times=clip_seconds, frame=list(size)) for e in events.values()),
        key=lambda e: (e["start"], e["type"]),
    )
    stats = pipeline.stats if pipeline else None
    return {
        "video": str(path),
        "events": described,
        "frames_analysed": stats.frames if stats else 0,
        "detector_calls": stats.detector_calls if stats else 0,
    }
