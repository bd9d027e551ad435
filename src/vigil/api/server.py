"""The API and console process, started and kept alive by `vigil run`.

python -m vigil.api.server CONFIG
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.audit import open_audit_log
from vigil.config import VigilConfig, load_config
from vigil.errors import VigilError
from vigil.lifeline import bind_to_supervisor
from vigil.logs import setup_logging
from vigil.storage.database import connect, migrate

log = logging.getLogger(__name__)


def announce_first_admin(context: ApiContext) -> None:
    """With no account at all, create `admin` with a one-time password shown this once."""
    created = context.accounts.ensure_first_admin()
    if created is None:
        return
    name, password = created
    context.audit_log.append_system("user.add", {"user": name, "roles": ["admin"]})
    # On the console only, never in the structured log that may be shipped elsewhere.
    print(
        f"\n  First start: created account {name!r} with one-time password\n\n"
        f"      {password}\n\n  Sign in at the console and choose a new password; "
        "this is the only time it is shown.\n",
        file=sys.stderr,
        flush=True,
    )


def build(config: VigilConfig) -> ApiContext:
    engine = connect(config.database_url())
    migrate(engine)
    return ApiContext(config, engine, open_audit_log(config, engine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", type=Path)
    args = parser.parse_args()
    setup_logging(os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    if not bind_to_supervisor():
        return
    try:
        config = load_config(args.config)
        context = build(config)
        announce_first_admin(context)
    except VigilError as exc:
        log.error("the API cannot start", extra={"error": str(exc)})
        sys.exit(2)
    log.info(
        "console listening",
        extra={"url": f"http://{config.api.host}:{config.api.port}/"},
    )
    uvicorn.run(
        create_app(context),
        host=config.api.host,
        port=config.api.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=3,
        # The peer address is the caller; X-Forwarded-For is read, from trusted proxies only,
        # by api/origin.py. uvicorn's default would believe it from 127.0.0.1.
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
