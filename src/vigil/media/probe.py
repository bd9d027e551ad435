"""Checking a segment file: does it decode, where does its last packet start, how long is it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from vigil.timeutil import US


@dataclass(frozen=True)
class Probe:
    frames: int  # decoded pictures
    packets: int
    duration_us: int  # from the first packet to the start of the last one
    last_packet_pos: int | None  # byte offset where the last packet begins


def probe(path: Path, decode: bool = True) -> Probe | None:
    """Demux (and decode) the whole file; None when it holds no usable video."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            first = last = None
            last_pos = None
            packets = frames = 0
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                packets += 1
                if packet.dts is not None:
                    seconds = float(packet.dts * stream.time_base)
                    first = seconds if first is None else first
                    last = seconds
                if packet.pos is not None and packet.pos >= 0:
                    last_pos = packet.pos
                if decode:
                    frames += len(packet.decode())
            if decode:
                frames += len(stream.codec_context.decode(None))
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    if packets == 0 or (decode and frames == 0):
        return None
    duration = int(((last or 0.0) - (first or 0.0)) * US)
    return Probe(frames, packets, max(duration, 0), last_pos)
