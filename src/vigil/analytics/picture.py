"""A decoded frame as analysis sees it: BGR, at most 640 wide, scaled by area averaging.

Area averaging is the right filter for shrinking (no aliasing of fine texture), and every
path into analysis (live cameras, `vigil analyze`, evaluation) scales the same way, so the
measurements that rules compare against thresholds do not depend on the path.
"""

from __future__ import annotations

import av
import numpy as np

MAX_WIDTH = 640  # enough for detection and motion; larger pictures only cost more


def analysis_size(width: int, height: int) -> tuple[int, int]:
    if width <= MAX_WIDTH:
        return width, height
    return MAX_WIDTH, max(2, round(height * MAX_WIDTH / width / 2) * 2)


def analysis_picture(frame: av.VideoFrame) -> np.ndarray:
    width, height = analysis_size(frame.width, frame.height)
    return frame.to_ndarray(format="bgr24", width=width, height=height, interpolation="AREA")
