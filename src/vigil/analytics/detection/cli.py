"""`vigil models list|check|pull`: the detection models of this machine."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from vigil.analytics.detection.factory import choose_model
from vigil.analytics.detection.models import ModelError, check, list_models, models_dirs, pull
from vigil.cli_support import JsonOption, load
from vigil.config import StorageConfig
from vigil.settings.detector import DetectorSettings

models_app = typer.Typer(no_args_is_help=True, help="List, verify and download detection models.")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="The YAML configuration (for storage.path).")
]
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="The models directory; default $VIGIL_MODELS_DIR, then "
                 "<storage.path>/models."),
]  # fmt: skip


def _settings(config: Path | None, directory: Path | None) -> tuple[DetectorSettings, Path]:
    """The detector settings and storage path that `vigil run` would use; --dir wins."""
    settings, storage = DetectorSettings(), StorageConfig().path
    if config is not None:
        loaded = load(config)
        settings, storage = loaded.detector, loaded.storage.path
    if directory is not None:
        settings = replace(settings, models_dir=directory)
    return settings, storage


def _directory(config: Path | None, directory: Path | None) -> Path:
    settings, storage = _settings(config, directory)
    return models_dirs(storage, settings.models_dir)[0]


@models_app.command("list")
def list_command(
    config: ConfigOption = None,
    directory: DirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Known models and any other .onnx file in the models directory, and which one the
    detector uses, and why."""
    settings, storage = _settings(config, directory)
    where = models_dirs(storage, settings.models_dir)[0]
    infos = list_models(where)
    choice = choose_model(settings, storage)
    if as_json:
        rows = [{**asdict(i), "path": str(i.path)} for i in infos]
        in_use = {**asdict(choice), "path": str(choice.path) if choice.path else None}
        typer.echo(json.dumps({"dir": str(where), "models": rows, "in_use": in_use}, indent=2))
        return
    typer.echo(f"in use: {choice.name} ({choice.reason})")
    typer.echo(f"models in {where}:")
    for info in infos:
        state = "missing"
        if info.present:
            state = {True: "ok", False: "CORRUPT (SHA-256 mismatch)", None: "unverified"}[
                info.sha_ok
            ]
        typer.echo(f"  {info.name:<24} {state:<28} {info.adapter or '-':<7} {info.path}")


@models_app.command("check")
def check_command(config: ConfigOption = None, directory: DirOption = None) -> None:
    """Verify the SHA-256 of every known model: exit 0, or print each problem and exit 1."""
    where = _directory(config, directory)
    problems = check(where)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{where}: ok")


@models_app.command("pull")
def pull_command(
    model: Annotated[str, typer.Argument(help="A known model name (yolox-nano) or a URL.")],
    config: ConfigOption = None,
    directory: DirOption = None,
    url: Annotated[str | None, typer.Option(help="Download from here instead.")] = None,
    sha256: Annotated[
        str | None, typer.Option(help="The checksum the download must have (required for URLs).")
    ] = None,
) -> None:
    """Download a model, verify its SHA-256, then install it atomically."""
    where = _directory(config, directory)
    try:
        path = pull(model, where, url=url, sha256=sha256)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"installed {path}")
