#!/usr/bin/python3
"""Fake RTSP cameras for tests: serve H.264 MPEG-TS files, looping forever.

Run with Debian's /usr/bin/python3 (it has `gi`; the project venv does not):

    rtsp_server.py --port 8554 --mount cam1=/path/a.ts [--mount cam2=/path/b.ts]

Prints "READY" once listening; exits 0 on SIGTERM/SIGINT, 2 if the port is taken.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# multifilesrc loop=true replays the file byte-for-byte; tsdemux sees the PCR
# jump back as a discontinuity and keeps output timestamps monotonic, so the
# stream runs forever without seeks (which a shared, multi-client media would
# propagate to every client) and without any re-encode.
LAUNCH = (
    "( multifilesrc location={location} loop=true"
    " ! tsdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mount(spec: str) -> tuple[str, Path]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {spec!r}")
    file = Path(path).resolve()
    if not file.is_file():
        raise argparse.ArgumentTypeError(f"{file} is not a file")
    if file.suffix.lower() not in {".ts", ".m2ts", ".mts"}:
        # Byte-level looping only works for a self-synchronising container.
        raise argparse.ArgumentTypeError(f"{file}: only MPEG-TS is supported")
    return name.strip("/"), file


def _deny_seeking(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    # tsdemux claims to be seekable but cannot seek on a looping multifilesrc, so
    # the seek rtsp-media does for PLAY's Range header would fail with 503.
    # Answering the query unchanged works because a new seeking query starts as
    # "not seekable" (and Python cannot write to it: the probe holds a 2nd ref).
    query = info.get_query()
    if query is not None and query.type == Gst.QueryType.SEEKING:
        return Gst.PadProbeReturn.HANDLED
    return Gst.PadProbeReturn.OK


def _on_media_configure(
    _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia
) -> None:
    pay = media.get_element().get_by_name("pay0")
    pay.get_static_pad("sink").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, _deny_seeking)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", type=_mount, action="append", required=True, metavar="NAME=PATH")
    args = parser.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for name, path in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH.format(location=_quote(str(path))))
        # One pipeline per mount, like a real camera: every client sees the same
        # live position, and reconnecting clients join it instead of restarting.
        factory.set_shared(True)
        factory.connect("media-configure", _on_media_configure)
        mounts.add_factory(f"/{name}", factory)

    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 2

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
