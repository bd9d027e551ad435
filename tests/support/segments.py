"""Writing real segment files for storage tests, through Vigil's own segment writer."""

from __future__ import annotations

from pathlib import Path

import av

from vigil.media.segment import SegmentWriter
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import Layout
from vigil.timeutil import US


def write_segment(
    layout: Layout,
    clip: Path,
    camera: str,
    start_us: int,
    seconds: float = 2.0,
    index: SegmentIndex | None = None,
) -> str:
    """Record `seconds` of the clip as one segment; index it when an index is given."""
    relative = layout.relative_path(camera, start_us)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        interval = int(US / float(stream.average_rate or 10))
        writer = SegmentWriter(layout.absolute(relative), stream, start_us)
        at = start_us
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            if at - start_us >= seconds * US and packet.is_keyframe:
                break
            writer.write(packet, at)
            at += interval
        closed = writer.finish(at)
    if index is not None:
        index.add(camera, start_us, closed.end_us, relative, closed.bytes, closed.sha256)
    return relative
