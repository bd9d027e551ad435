"""`vigil report transparency`: the transparency report over a period, for publication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.audit.cli import site_public_keys
from vigil.cli_support import ConfigOption, fail, load, open_database
from vigil.errors import VigilError
from vigil.oversight.report import transparency
from vigil.oversight.report_html import pdf, render
from vigil.timeutil import DAY_US, now_us, parse_iso

report_app = typer.Typer(no_args_is_help=True, help="Reports for overseers and the public.")


@report_app.command("transparency")
def transparency_report(
    config: ConfigOption,
    since: Annotated[str | None, typer.Option(help="ISO 8601 (default: 30 days ago).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 (default: now).")] = None,
    format: Annotated[str, typer.Option(help="html, json or pdf")] = "html",
    out: Annotated[Path | None, typer.Option(help="Write here (pdf needs it).")] = None,
) -> None:
    """Accesses by kind, role and camera; reasons by case; holds; exports and their approvers;
    mask lifts; refusals; retention erasures against each camera's declared retention; the
    checkpoints of the period and whether the trail verifies. Made from the audit trail and
    the register alone."""
    loaded = load(config)
    if format not in ("html", "json", "pdf"):
        raise fail(VigilError(f"--format {format!r}: use html, json or pdf"))
    if format == "pdf" and out is None:
        raise fail(VigilError("--format pdf writes a file: give --out REPORT.pdf"))
    try:
        until_us = parse_iso(until) if until else now_us()
        since_us = parse_iso(since) if since else until_us - 30 * DAY_US
    except ValueError as exc:
        raise fail(VigilError(f"--since/--until: {exc}")) from None
    try:
        report = transparency(loaded, open_database(loaded), since_us, until_us,
                              site_public_keys(loaded))  # fmt: skip
        text = json.dumps(report, indent=2) if format == "json" else render(report)
        if format == "pdf":
            assert out is not None
            pdf(text, out)
        elif out is not None:
            out.write_text(text)
        else:
            typer.echo(text, nl=False)
    except VigilError as exc:
        raise fail(exc) from None
