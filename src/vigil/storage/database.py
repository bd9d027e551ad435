"""Opening the index database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from vigil.errors import StorageError
from vigil.storage.layout import PRIVATE_DIR

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed segment row survives a power cut, which the write order relies on.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _create_private(path: Path) -> None:
    """SQLite gives its -wal and -shm files the database file's mode: made 0600 here, all
    three are private to Vigil's user whatever the umask of the first process to open it."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600))


def connect(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; safe to call on every start."""
    # Imported here: camera processes never migrate, and Alembic costs each of them memory.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise StorageError(f"database {url}: cannot apply migrations: {exc}") from exc


def integrity_problems(engine: Engine) -> list[str]:
    """SQLite's own integrity check; PostgreSQL guarantees it by construction."""
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as connection:
        rows = [r[0] for r in connection.execute(text("PRAGMA integrity_check"))]
    return [] if rows == ["ok"] else rows
