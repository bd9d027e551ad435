"""A throwaway PostgreSQL server from Debian's packages, on 127.0.0.1, for the tests."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(
            f"PostgreSQL's {name} not found; install Debian's postgresql package (./test.sh does)"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """initdb + pg_ctl in a private directory; as root, run as the postgres user (runuser)."""

    def __init__(self) -> None:
        # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
        self.directory = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self._databases = 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.directory, self.user)
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "vigil", "--auth=trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.directory} -c fsync=on"
        )
        log = self.directory / "server.log"
        self._run(
            _bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not start; see {log}")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import sqlalchemy

        self._databases += 1
        name = f"vigil_test_{self._databases}"
        admin = sqlalchemy.create_engine(
            f"postgresql+psycopg://vigil@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return f"postgresql+psycopg://vigil@127.0.0.1:{self.port}/{name}"
