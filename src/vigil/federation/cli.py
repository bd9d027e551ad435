"""`vigil federation init | add-site | status`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli_support import ConfigOption, fail, load, open_database
from vigil.errors import ConfigError, VigilError
from vigil.federation import pki
from vigil.federation.home import Credentials, Home, SiteSecrets
from vigil.federation.server import federation_of, write_config
from vigil.federation.status import hub_status, site_status
from vigil.settings.federation import site_name
from vigil.storage.layout import write_private

federation_app = typer.Typer(no_args_is_help=True, help="Sites and the hub that sees them.")


def _hub_home(config_path: Path) -> tuple[Home, list[str]]:
    config = load(config_path)
    settings = federation_of(config)
    if settings.role != "hub":
        raise fail(ConfigError("this is a site; run this at the hub (federation.role: hub)"))
    home = Home(settings.home(config.storage.path))
    return home, settings.hostnames


@federation_app.command("init")
def init(config: ConfigOption) -> None:
    """Make the federation's CA and the hub's TLS certificate (for federation.hostnames)."""
    home, hostnames = _hub_home(config)
    if home.ca_key.exists():
        raise fail(VigilError(f"{home.ca_key} exists: this hub is initialised already"))
    home.create()
    ca = pki.make_ca()
    hub = pki.issue(ca, "hub", hostnames)
    for path, pem in (
        (home.ca, ca.cert_pem),
        (home.ca_key, ca.key_pem),
        (home.cert, hub.cert_pem),
        (home.key, hub.key_pem),
    ):
        write_private(path, pem.encode())
    typer.echo(f"federation CA and hub certificate for {', '.join(hostnames)} in {home.root}")


@federation_app.command("add-site")
def add_site(
    name: Annotated[str, typer.Argument(help="The site's name (a-z, 0-9, '-').")],
    config: ConfigOption,
    out: Annotated[Path, typer.Option(help="Write the site's credentials file here.")],
) -> None:
    """Give a site its NATS account, password and TLS certificate; the credentials file goes to
    the site (federation.credentials). The hub's NATS server takes the site without a restart."""
    home, _ = _hub_home(config)
    try:
        site_name(name)
    except ValueError as exc:
        raise fail(VigilError(str(exc))) from None
    if not home.ca_key.exists():
        raise fail(VigilError("no federation CA yet; run `vigil federation init` first"))
    if (home.sites / f"{name}.json").exists():
        raise fail(
            VigilError(
                f"site {name!r} exists already; a second one would share its "
                "account: choose another name"
            )
        )
    secrets = SiteSecrets.new(name)
    ca = pki.Issued(home.ca.read_text(), home.ca_key.read_text())
    cert = pki.issue(ca, f"site-{name}")
    home.save_site(secrets)
    Credentials(
        name, secrets.leaf_user, secrets.leaf_password, ca.cert_pem, cert.cert_pem, cert.key_pem
    ).save(out)
    _reload(config, home)
    typer.echo(
        f"site {name!r} added; copy {out} to the site as federation.credentials "
        "(it holds the site's password and key: keep it private)"
    )


def _reload(config_path: Path, home: Home) -> None:
    """Rewrite the hub's nats.conf and have a running server read it (SIGHUP)."""
    write_config(load(config_path))
    # Not running: it reads the file when it starts.
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(home.nats_pid.read_text().strip()), signal.SIGHUP)


@federation_app.command("status")
def status(config: ConfigOption, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """At a site: the link, the backlog and the last acknowledgement. At the hub: every site."""
    loaded = load(config)
    settings = federation_of(loaded)
    try:
        engine = open_database(loaded)
        home = Home(settings.home(loaded.storage.path))
        report = (
            site_status(loaded, settings, engine)
            if settings.role == "site"
            else hub_status(settings, home, engine)
        )
    except VigilError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    if report["role"] == "site":
        stream = report["stream"] or {}
        typer.echo(f"site {report['site']} -> {report['hub']}: link {report['link']}")
        typer.echo(f"  not yet in the stream: {report['not_in_stream']}")
        typer.echo(
            f"  stream: {stream.get('messages')} messages, hub backlog "
            f"{report['hub_backlog']}, last hub ack {report['last_hub_ack']}"
        )
        return
    for site in report["sites"]:
        typer.echo(
            f"{site['site']}: link {site['link']}, lag p50 {site['lag_p50_s']} s "
            f"p95 {site['lag_p95_s']} s, {site['events_last_hour']} events in the last "
            f"hour, refused {site['refused']}"
        )
