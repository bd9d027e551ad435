"""Cutting a camera's packets into keyframe-aligned segments and indexing each closed one."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

import av

from vigil.errors import RecordingError
from vigil.media.segment import ClosedSegment, SegmentWriter
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US

log = logging.getLogger(__name__)

H264_SPS = 7


def parameter_sets(packet: av.Packet) -> bytes | None:
    """The H.264 SPS carried in an Annex B keyframe, to notice a change of resolution."""
    data = bytes(packet)
    start = data.find(b"\x00\x00\x01")
    while 0 <= start < len(data) - 3:
        if data[start + 3] & 0x1F == H264_SPS:
            end = data.find(b"\x00\x00\x01", start + 3)
            return data[start + 3 : end if end > 0 else None].rstrip(b"\x00")
        start = data.find(b"\x00\x00\x01", start + 3)
    return None


class DiskFull(RecordingError):
    pass


class Recorder:
    def __init__(
        self,
        camera: str,
        layout: Layout,
        index: SegmentIndex,
        segment_seconds: float,
        recover: Callable[[str], None],
        on_new_parameters: Callable[[av.Packet], None] = lambda _packet: None,
        room_to_record: Callable[[], bool] = lambda: True,
    ) -> None:
        self.camera = camera
        self.layout = layout
        self.index = index
        # A keyframe a hair early (timestamp rounding) still closes the segment.
        self.segment_us = int(segment_seconds * US * 0.99)
        self.recover = recover  # indexes what a failed segment file still holds
        self.on_new_parameters = on_new_parameters  # sees the keyframe before it is muxed
        self.room_to_record = room_to_record
        self._writer: SegmentWriter | None = None
        self._template: av.VideoStream | None = None
        self._sps: bytes | None = None
        self._annex_b = False
        self.segments_written = 0

    def begin(self, template: av.VideoStream) -> None:
        """A new connection: the next segment starts at its first keyframe."""
        self.close()
        self._template = template
        self._sps = None
        extradata = template.codec_context.extradata or b""
        # avcC extradata (MP4 files) means length-prefixed NAL units, not start codes.
        self._annex_b = template.codec_context.name == "h264" and not extradata.startswith(b"\x01")

    def write(self, packet: av.Packet, media_us: int) -> None:
        """Record one packet. Muxing consumes the packet's data, so it is the last use of it."""
        if packet.is_keyframe:
            sps = parameter_sets(packet) if self._annex_b else None
            changed = sps is not None and self._sps is not None and sps != self._sps
            if changed:
                log.info(
                    "stream parameters changed; starting a new segment",
                    extra={"camera": self.camera},
                )
                self.on_new_parameters(packet)
            if sps is not None:
                self._sps = sps
            if (
                self._writer is None
                or changed
                or media_us - self._writer.start_us >= self.segment_us
            ):
                self._cut(media_us)
        if self._writer is None:
            return  # nothing is decodable before the first keyframe
        try:
            self._writer.write(packet, media_us)
        except OSError as exc:
            self._fail(exc)

    def _cut(self, media_us: int) -> None:
        self._finish(media_us)
        if not self.room_to_record():
            raise DiskFull(
                f"camera {self.camera!r}: recording paused, the disk is nearly full and retention "
                "cannot free it (see the storage alarm); it resumes when space returns"
            )
        relative = self.layout.relative_path(self.camera, media_us)
        try:
            assert self._template is not None
            self._writer = SegmentWriter(self.layout.absolute(relative), self._template, media_us)
        except FileExistsError:
            # Two sessions cannot share a start time; the clock guarantees it, so say so loudly.
            raise RecordingError(
                f"camera {self.camera!r}: segment {relative} already exists"
            ) from None
        except OSError as exc:
            self._writer = None
            raise self._disk_error(exc, relative) from exc

    def _finish(self, end_us: int) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            closed = writer.finish(max(end_us, writer.last_us + 1))
        except OSError as exc:
            writer.abort()
            self.recover(self._relative(writer))
            raise self._disk_error(exc, self._relative(writer)) from exc
        self._commit(closed)

    def _commit(self, closed: ClosedSegment) -> None:
        relative = str(closed.path.relative_to(self.layout.recordings))
        self.index.add(
            self.camera, closed.start_us, closed.end_us, relative, closed.bytes, closed.sha256
        )
        self.segments_written += 1
        log.debug(
            "segment closed", extra={"camera": self.camera, "path": relative, "bytes": closed.bytes}
        )

    def _fail(self, exc: OSError) -> None:
        writer, self._writer = self._writer, None
        assert writer is not None
        writer.abort()
        self.recover(self._relative(writer))
        raise self._disk_error(exc, self._relative(writer)) from exc

    def _relative(self, writer: SegmentWriter) -> str:
        return str(writer.path.relative_to(self.layout.recordings))

    def _disk_error(self, exc: OSError, relative: str) -> RecordingError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull(
                f"camera {self.camera!r}: disk full writing {relative}; "
                "free space or lower retention"
            )
        return RecordingError(f"camera {self.camera!r}: cannot write {relative}: {exc.strerror}")

    def close(self, end_us: int | None = None) -> None:
        """End the open segment (clean stop or lost connection) at end_us, else its last packet."""
        if self._writer is not None:
            self._finish(end_us or self._writer.last_us + 1)
