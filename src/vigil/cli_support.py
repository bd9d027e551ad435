"""What every `vigil` sub-command shares: its options, loading the configuration, opening the
database, and failing with the documented exit codes (1 operational, 2 bad configuration)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from vigil.config import VigilConfig, load_config
from vigil.errors import ConfigError, VigilError
from vigil.storage.database import connect, migrate

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def load(path: Path) -> VigilConfig:
    """The configuration, or exit 2 with every problem in it."""
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def fail(exc: VigilError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def open_database(config: VigilConfig) -> Engine:
    """The index database, migrated to the newest schema."""
    engine = connect(config.database_url())
    migrate(engine)
    return engine
