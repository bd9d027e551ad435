"""Every path under the storage root, named in one place.

Recordings live at <storage>/recordings/<camera>/<YYYY-MM-DD>/<HHMMSS.ffffff>.ts. The file
name encodes the segment's start (UTC), so start-up reconciliation can index a file whose row
was never committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from vigil.timeutil import US, to_datetime

PRIVATE_UMASK = 0o077  # set by the entry point: what Vigil writes is its own user's alone
PRIVATE_DIR = 0o700
SEGMENT_SUFFIX = ".ts"
NAME = re.compile(r"^(\d{2})(\d{2})(\d{2})\.(\d{6})\.ts$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SOCKET_NAME_MAX = 100  # bytes; Linux allows 108 for a Unix socket's path


class Layout:
    def __init__(self, storage_path: Path) -> None:
        self.root = storage_path
        self.recordings = storage_path / "recordings"
        self.quarantine = storage_path / "quarantine"
        self.snapshots = storage_path / "snapshots"  # <camera>/<YYYY-MM-DD>/<event id>.jpg
        self.database = storage_path / "vigil.db"  # the SQLite index, unless database.url
        self.audit_key = storage_path / "audit" / "signing.pem"  # unless audit.signing_key
        self.reserve = storage_path / "reserve"  # space held back for a full disk's last writes
        self.models = storage_path / "models"  # detector models `vigil models pull` fetched
        self.exports = storage_path / "exports"  # export packages, one directory each

    @property
    def detector_socket(self) -> Path:
        """The detector service's Unix socket: in the storage root, or in the temporary
        directory when that path is too long for a socket name."""
        beside = self.root.resolve() / "detector.sock"
        if len(str(beside)) < SOCKET_NAME_MAX:
            return beside
        digest = hashlib.sha256(str(beside).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"vigil-detector-{digest}.sock"

    def create(self) -> bool:
        """Make the storage directories, private to Vigil's user. A root left readable by
        others (made by an older version, or by hand) is closed; True when it was."""
        self.recordings.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        if self.root.stat().st_mode & 0o077:
            self.root.chmod(PRIVATE_DIR)
            return True
        return False

    def relative_path(self, camera: str, start_us: int) -> str:
        moment = to_datetime(start_us)
        return (
            f"{camera}/{moment:%Y-%m-%d}/{moment:%H%M%S}.{moment.microsecond:06d}{SEGMENT_SUFFIX}"
        )

    def absolute(self, relative: str) -> Path:
        return self.recordings / relative

    def camera_dir(self, camera: str) -> Path:
        return self.recordings / camera

    @staticmethod
    def day_start_us(day: str) -> int:
        return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) * US

    @staticmethod
    def start_from_name(day: str, name: str) -> int | None:
        match = NAME.match(name)
        if not match or not DAY.match(day):
            return None
        hours, minutes, seconds, micros = (int(g) for g in match.groups())
        return Layout.day_start_us(day) + (hours * 3600 + minutes * 60 + seconds) * US + micros


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only Vigil's user may read (0600), whole or not at all: a temporary file,
    fsync, rename over the old one, directory fsync."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_dir(path.parent)


def make_dirs_durable(path: Path) -> None:
    """Create path and missing parents, fsyncing each parent so the entries survive a power cut."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        fsync_dir(directory.parent)


def free_and_total(path: Path) -> tuple[int, int]:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize, stats.f_blocks * stats.f_frsize
