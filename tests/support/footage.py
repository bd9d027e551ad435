"""Real footage decoded as the analysis path hands it over: 5 fps, at most 640 wide, BGR."""

from __future__ import annotations

import functools
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 5.0
MAX_WIDTH = 640

Frames = list[tuple[int, np.ndarray]]


@functools.cache
def clip(path: Path, seconds: float | None = None, start_us: int = 0) -> Frames:
    """(start_us + µs from the clip's start, BGR picture), for the first `seconds` or all."""
    if not path.is_file():  # tests mark the clips they read with `needs`
        raise FileNotFoundError(f"{path}: no such clip")
    frames: Frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        next_us = 0
        for frame in container.decode(stream):
            assert frame.pts is not None
            ts_us = round(frame.pts * stream.time_base * 1_000_000)
            if seconds is not None and ts_us > seconds * 1e6:
                break
            if ts_us < next_us:
                continue
            next_us = ts_us + round(1e6 / FPS) - 1000
            picture = frame.to_ndarray(format="bgr24")
            if picture.shape[1] > MAX_WIDTH:
                height = round(picture.shape[0] * MAX_WIDTH / picture.shape[1])
                picture = cv2.resize(picture, (MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
            frames.append((start_us + ts_us, picture))
    return frames
