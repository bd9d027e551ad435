"""An event's best snapshot, twice: the clean frame and one with the box and label drawn.

Layout: <storage.path>/snapshots/<camera>/<YYYY-MM-DD>/<event id>.jpg and <event id>-clean.jpg
(the UTC day of the event's start). Files are replaced atomically (temp file, fsync, rename,
fsync of the directory), so a crash leaves the old snapshot or the new one, never half of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vigil.box import Box
from vigil.errors import StorageError
from vigil.storage.layout import fsync_dir, make_dirs_durable
from vigil.timeutil import to_datetime

JPEG_QUALITY = 90
BOX_COLOUR = (0, 0, 255)  # BGR red: visible on most scenes, and what operators expect
TEXT_COLOUR = (255, 255, 255)


@dataclass(frozen=True)
class SnapshotPaths:
    """Both files of one event, relative to the snapshots directory."""

    boxed: str
    clean: str


def relative_paths(camera: str, event_id: str, start_us: int) -> SnapshotPaths:
    day = f"{to_datetime(start_us):%Y-%m-%d}"
    return SnapshotPaths(f"{camera}/{day}/{event_id}.jpg", f"{camera}/{day}/{event_id}-clean.jpg")


def _bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return frame


def draw_box(frame: np.ndarray, box: Box, caption: str | None) -> np.ndarray:
    """A copy of the frame with the box outlined and the caption on a filled band above it."""
    picture = _bgr(frame).copy()
    height, width = picture.shape[:2]
    thickness = max(2, round(min(height, width) / 240))
    x1, y1 = max(0, round(box.x1)), max(0, round(box.y1))
    x2, y2 = min(width - 1, round(box.x2)), min(height - 1, round(box.y2))
    cv2.rectangle(picture, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
    if caption:
        scale = max(0.4, min(height, width) / 720)
        (text_w, text_h), baseline = cv2.getTextSize(
            caption, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness // 2 + 1
        )
        # Above the box when there is room, else inside its top edge.
        top = y1 - text_h - baseline - thickness if y1 > text_h + baseline + thickness else y1
        left = max(0, min(x1, width - text_w - 2 * thickness))  # kept inside the picture
        cv2.rectangle(
            picture, (left, top),
            (left + text_w + 2 * thickness, top + text_h + baseline + thickness),
            BOX_COLOUR, cv2.FILLED,
        )  # fmt: skip
        cv2.putText(
            picture, caption, (left + thickness, top + text_h + thickness // 2),
            cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOUR, thickness // 2 + 1, cv2.LINE_AA,
        )  # fmt: skip
    return picture


def encode_jpeg(picture: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", _bgr(picture), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise StorageError(f"cannot encode a {picture.shape} frame as JPEG")
    return data.tobytes()


def write_durable(path: Path, data: bytes) -> None:
    """Write, fsync, rename over the old file, fsync the directory: all or nothing."""
    make_dirs_durable(path.parent)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def write_snapshots(
    directory: Path,
    paths: SnapshotPaths,
    frame: np.ndarray,
    box: Box | None,
    caption: str | None,
) -> None:
    """The clean frame and the boxed one (the same picture when there is no box)."""
    clean = encode_jpeg(frame)
    boxed = encode_jpeg(draw_box(frame, box, caption)) if box is not None else clean
    try:
        write_durable(directory / paths.clean, clean)
        write_durable(directory / paths.boxed, boxed)
    except OSError as exc:
        raise StorageError(
            f"snapshot {directory / paths.boxed}: cannot write ({exc.strerror}); "
            "check free space and permissions of storage.path"
        ) from exc
