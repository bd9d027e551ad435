"""`vigil export play`: a package's video in the browser with its manifest beside it, served
on loopback from the package itself (a directory, or a .zip unpacked to a private temporary
directory). A package that does not verify is not played."""

from __future__ import annotations

import html
import json
import re
import zipfile
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from vigil.export.names import DERIVATIVE, MANIFEST
from vigil.playback.remux import fragmented_mp4

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 1 << 16

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:14px sans-serif;margin:1em;display:flex;gap:1em}}video{{max-width:60vw}}
pre{{white-space:pre-wrap;font-size:12px;max-height:90vh;overflow:auto}}</style></head>
<body><div><h1>{title}</h1><video id="video" controls muted autoplay src="/video.mp4"></video>
<pre id="summary">{summary}</pre></div><pre id="manifest">{manifest}</pre></body></html>
"""


def unpack(package: Path, into: Path) -> Path:
    """A zipped package's directory, unpacked under `into`; a directory as it is."""
    if package.is_dir():
        return package
    with zipfile.ZipFile(package) as archive:
        for member in archive.namelist():
            target = (into / member).resolve()
            if not target.is_relative_to(into.resolve()):
                raise ValueError(f"{package}: {member!r} would land outside the package")
        archive.extractall(into)
    manifests = sorted(into.rglob(MANIFEST))
    if not manifests:
        raise ValueError(f"{package}: no {MANIFEST} inside; it is not a Vigil export package")
    return manifests[0].parent


def serve(directory: Path, summary: str, port: int) -> ThreadingHTTPServer:
    """A loopback server for the package at `directory` (not yet serving: call serve_forever)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    kind = "redacted" if manifest["redacted"] else "UNREDACTED originals"
    title = f"Export {manifest['export']}: {manifest['camera']['name']}, {kind}"
    page = PAGE.format(
        title=html.escape(title),
        summary=html.escape(summary),
        manifest=html.escape(json.dumps(manifest, indent=2)),
    ).encode()
    video = directory / DERIVATIVE if manifest["redacted"] else None
    originals = [] if video else [directory / entry["file"] for entry in manifest["segments"]]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", page)
            elif self.path == "/video.mp4" and video is not None:
                self._file(video)
            elif self.path == "/video.mp4":
                self._stream(fragmented_mp4(originals))
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")

        def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _file(self, path: Path) -> None:
            """The file, or the byte range asked for: a browser seeks with ranges."""
            size = path.stat().st_size
            first, last = 0, size - 1
            match = RANGE.match(self.headers.get("Range", ""))
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    first = int(match.group(1))
                    last = min(last, int(match.group(2) or last))
                else:
                    first = max(0, size - int(match.group(2)))
                self.send_response(HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            else:
                self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(last - first + 1))
            self.end_headers()
            with open(path, "rb") as file:
                file.seek(first)
                left = last - first + 1
                while left > 0 and (chunk := file.read(min(CHUNK, left))):
                    self.wfile.write(chunk)
                    left -= len(chunk)

        def _stream(self, body: Iterator[bytes]) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            for chunk in body:
                self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the command prints its one line."""

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
