"""The `vigil` command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, get_args

import typer

from vigil.accounts.cli import user_app
from vigil.analytics.detection.cli import models_app
from vigil.audit.cli import audit_app
from vigil.case_cli import case_app
from vigil.cli_support import ConfigOption, JsonOption, fail, load, open_database
from vigil.config import VigilConfig
from vigil.errors import VigilError
from vigil.export.cli import export_app
from vigil.federation.cli import federation_app
from vigil.logs import setup_logging
from vigil.oversight.cli import report_app
from vigil.settings.detector import DetectorSettings
from vigil.storage.index import SegmentIndex
from vigil.storage.layout import PRIVATE_UMASK, Layout
from vigil.storage.report import status_report
from vigil.timeutil import parse_iso, to_iso

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
config_app = typer.Typer(no_args_is_help=True, help="Check a configuration file.")
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(case_app, name="case")
app.add_typer(export_app, name="export")
app.add_typer(report_app, name="report")
app.add_typer(federation_app, name="federation")


def _known_camera(config: VigilConfig, camera: str | None, path: Path) -> str:
    if camera not in config.cameras:
        known = ", ".join(sorted(config.cameras)) or "none"
        raise fail(VigilError(f"camera {camera!r} is not in {path}; known cameras: {known}"))
    return camera


def _time_range(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    try:
        return (parse_iso(since) if since else None, parse_iso(until) if until else None)
    except ValueError as exc:
        raise fail(VigilError(f"--since/--until: {exc}")) from None


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="The YAML configuration; without it a demo camera is recorded."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Record every enabled camera until SIGTERM or Ctrl-C."""
    from vigil.demo import demo_config
    from vigil.runtime.supervisor import run_supervisor

    setup_logging(log_level.upper())
    os.environ["VIGIL_LOG_LEVEL"] = log_level.upper()
    try:
        if config is None:
            home = Path(os.environ.get("VIGIL_HOME", "vigil-demo"))
            config = demo_config(home)
            typer.echo(
                f"no configuration given: recording a demo camera into {home}/storage", err=True
            )
        run_supervisor(load(config), config.resolve())
    except VigilError as exc:
        raise fail(exc) from None


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="The YAML configuration.")]) -> None:
    """Validate a configuration: exit 0, or print each problem with its key path and line."""
    loaded = load(file)
    typer.echo(f"{file}: ok ({len(loaded.cameras)} camera(s))")


@app.command("register")
def public_register(
    config: ConfigOption,
    format: Annotated[str, typer.Option(help="html, json or csv")] = "html",
) -> None:
    """The public camera register (what GET /register serves): every camera's site, place,
    purpose, legal basis, operator, signage, retention and analytics; no video, no address."""
    from vigil.oversight import register

    render = {"html": register.as_html, "json": register.as_json, "csv": register.as_csv}
    if format not in render:
        raise fail(VigilError(f"--format {format!r}: use html, json or csv"))
    typer.echo(render[format](load(config)), nl=False)


@app.command()
def status(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Per camera: state, last packet, fps, bitrate, segments, bytes, oldest and newest."""
    loaded = load(config)
    if not Layout(loaded.storage.path).root.exists() and loaded.database.url is None:
        raise fail(VigilError(f"{loaded.storage.path}: no recordings yet; start `vigil run`"))
    try:
        report = status_report(loaded, open_database(loaded))
    except VigilError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for alarm in report["alarms"]:
        typer.echo(f"ALARM {alarm['kind']}: {alarm['message']} (since {alarm['since']})")
    typer.echo(
        f"{'camera':<20} {'state':<9} {'since':<28} {'fps':>5} {'kbit/s':>8} "
        f"{'segments':>8} {'MB':>9}  newest"
    )
    for name, cam in report["cameras"].items():
        fps = f"{cam['fps']:.1f}" if cam["fps"] else "-"
        rate = f"{cam['bitrate'] / 1000:.0f}" if cam["bitrate"] else "-"
        typer.echo(
            f"{name:<20} {cam['state']:<9} {cam['since'] or '-':<28} {fps:>5} {rate:>8} "
            f"{cam['segments']:>8} {cam['bytes'] / 1e6:>9.1f}  {cam['newest'] or '-'}"
        )
        if cam["error"] and cam["state"] != "online":
            typer.echo(f"{'':<20} {cam['error']}")


@app.command()
def recordings(
    config: ConfigOption,
    camera: Annotated[str, typer.Option(help="The camera's name.")],
    since: Annotated[str | None, typer.Option(help="ISO 8601 time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time (UTC if no zone).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The segments of one camera between --since and --until, oldest first: metadata only;
    footage is watched and exported through the console, where it is authorised and audited."""
    loaded = load(config)
    _known_camera(loaded, camera, config)
    since_us, until_us = _time_range(since, until)
    segments = SegmentIndex(open_database(loaded)).find(camera, since_us, until_us)
    rows = [
        {
            "id": s.id,
            "start": to_iso(s.start_us),
            "end": to_iso(s.end_us),
            "bytes": s.bytes,
            "sha256": s.sha256,
            "state": s.state,
            "hold": s.hold,
        }
        for s in segments
    ]
    if as_json:
        typer.echo(json.dumps({"camera": camera, "segments": rows}, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['id']:>9}  {row['start']}  {row['end']}  {row['bytes']:>10}  {row['state']}"
        )


@app.command()
def events(
    config: ConfigOption,
    camera: Annotated[str | None, typer.Option(help="Only this camera.")] = None,
    event_type: Annotated[
        str | None, typer.Option("--type", help="Only this type, e.g. intrusion or tamper.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time (UTC if no zone).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Events between --since and --until, newest first, with the ids of their recording's
    segments; snapshots and footage are seen through the console, authorised and audited."""
    from vigil.events.model import EventType
    from vigil.events.query import list_events

    loaded = load(config)
    if camera is not None:
        _known_camera(loaded, camera, config)
    types = get_args(EventType)
    if event_type is not None and event_type not in types:
        raise fail(VigilError(f"--type {event_type!r} is unknown; use one of {', '.join(types)}"))
    since_us, until_us = _time_range(since, until)
    found = list_events(
        loaded, open_database(loaded), camera, event_type, since_us, until_us, limit
    )
    if as_json:
        typer.echo(json.dumps({"events": found}, indent=2))
        return
    for event in found:
        where = f" {event['zone']}" if event["zone"] else ""
        typer.echo(
            f"{event['start']}  {event['end'] or 'ongoing':<27}  {event['camera']:<16} "
            f"{event['type']:<17} {event['label'] or '-':<10}{where}"
        )


@app.command()
def analyze(
    video: Annotated[Path, typer.Argument(help="A video file (any format FFmpeg reads).")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Take the camera's analysis settings.")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="The camera whose settings apply.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the analysis pipeline over a video file as fast as possible and print its events.

    Without a configuration: tamper and whole-frame unattended-object detection."""
    from vigil.analytics.detection.factory import load_detector
    from vigil.analytics.offline import analyze_video, default_analytics

    setup_logging("WARNING")
    if config is None:
        settings, detector_settings, storage = default_analytics(), DetectorSettings(), None
    else:
        loaded = load(config)
        settings = (
            loaded.cameras[_known_camera(loaded, camera, config)].analytics() or default_analytics()
        )
        detector_settings, storage = loaded.detector, loaded.storage.path
    try:
        detector = load_detector(detector_settings, *([storage] if storage else []))
        report = analyze_video(video, settings, detector, camera or "video")
    except VigilError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for event in report["events"]:
        end = "-" if event["end"] is None else f"{event['end']:.1f}"
        typer.echo(f"{event['start']:>8.1f} {end:>8}  {event['type']:<17} "
                   f"{event['label'] or '-':<10} {event['zone'] or ''}")  # fmt: skip
    typer.echo(f"{report['frames_analysed']} pictures analysed, {len(report['events'])} events")


def main() -> None:
    # Footage, snapshots and the index (password hashes included) are for Vigil's own user
    # only: every file and directory Vigil or its children make is 0600/0700.
    os.umask(PRIVATE_UMASK)
    app()
