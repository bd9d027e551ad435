"""`vigil export verify|play|list`: check a package as an outsider would, watch it, and list
the site's export jobs (metadata only; exports are asked for through the console, where each
person signs in and every request is audited)."""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

import typer

from vigil.audit import offline
from vigil.cli_support import ConfigOption, JsonOption, load, open_database
from vigil.export.player import serve, unpack
from vigil.storage.exports import ExportStore

export_app = typer.Typer(no_args_is_help=True, help="Export packages: verify, play, list.")

PackageArgument = Annotated[
    Path, typer.Argument(help="The package: its directory or its .zip.", exists=True)
]
KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The site's public key as published (`vigil audit public-key`); without it the "
        "key inside the package is used and its fingerprint printed for you to compare.",
        exists=True,
        dir_okay=False,
    ),
]


def _verified(package: Path, key: Path | None) -> str:
    """The summary of a package that verifies; exit 1 naming what is wrong otherwise."""
    try:
        given = offline.public_key(key.read_text()) if key is not None else None
        return offline.check_package(offline.Package(package), given)
    except offline.Refused as exc:
        typer.echo(f"NOT VERIFIED: {exc}")
        raise typer.Exit(1) from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        typer.echo(f"error: cannot read {package}: {exc}", err=True)
        raise typer.Exit(2) from None


@export_app.command()
def verify(package: PackageArgument, key: KeyOption = None) -> None:
    """Check a package: every byte against the signed manifest, the segment chain, and the
    audit records of who asked and who approved. The package's own verify.py does the same
    without Vigil."""
    typer.echo(_verified(package, key))


@export_app.command()
def play(
    package: PackageArgument,
    key: KeyOption = None,
    port: Annotated[int, typer.Option(help="Loopback port; 0 picks a free one.")] = 0,
) -> None:
    """Verify a package, then play it in the browser with its manifest beside it: the
    redacted video, or the originals of an unredacted package."""
    summary = _verified(package, key)
    with tempfile.TemporaryDirectory(prefix="vigil-package-") as scratch:
        try:
            directory = unpack(package, Path(scratch))
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        server = serve(directory, summary, port)
        # A stop by signal unwinds too, so an unpacked zip's footage never stays behind.
        signal.signal(signal.SIGTERM, _interrupt)
        typer.echo(summary)
        typer.echo(f"playing at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        server.server_close()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@export_app.command("list")
def list_exports(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Every export job, newest first, with its state and progress."""
    found = [job.to_json() for job in ExportStore(open_database(load(config))).list()]
    if as_json:
        typer.echo(json.dumps({"exports": found}, indent=2))
        return
    for job in found:
        kind = "redacted" if job["redacted"] else "UNREDACTED"
        progress = job["progress"]
        typer.echo(f"{job['id']:>5} {job['state']:<10} {kind:<10} {job['camera']:<16} "
                   f"{job['since']} {job['case']:<20} {job['requested_by']:<12} "
                   f"{progress['bytes_done']}/{progress['bytes_total']} bytes")  # fmt: skip
