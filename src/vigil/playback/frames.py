"""A still picture of a segment, for timeline thumbnails and previews."""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import cv2

from vigil.errors import StorageError


def keyframe_jpeg(path: Path, max_width: int = 640, quality: int = 80) -> bytes:
    """The segment's first keyframe as a JPEG at most max_width wide (scaled by area averaging,
    as analysis scales its pictures, so thin detail does not alias)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise StorageError(f"segment {path} holds no video")
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"  # only the keyframe is wanted
            frame = next(container.decode(stream), None)
            if frame is None:
                raise StorageError(f"segment {path} holds no decodable picture; it is damaged")
            width, height = frame.width, frame.height
            if width > max_width:
                width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
            picture = frame.to_ndarray(
                format="bgr24", width=width, height=height, interpolation="AREA"
            )
    except (OSError, av.error.FFmpegError) as exc:
        raise StorageError(
            f"segment {path} cannot be read ({exc}); it may be damaged or deleted by retention"
        ) from exc
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StorageError(f"cannot encode the picture of {path} as JPEG")
    return data.tobytes()
