"""The nats-server configurations Vigil writes: a site's leaf node and the hub.

Written as JSON, which nats-server's configuration format accepts, so no value needs quoting by
hand. Every site has its own account at the hub: a site's leaf connection is bound to it, so it
can neither see nor publish into another site's subjects, and the hub's ingest reads each site's
stream with a user of that site's account.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vigil.federation.home import Credentials, Home, SiteSecrets
from vigil.settings.federation import FederationSettings

STREAM = "VIGIL"  # the site's stream, in the site's own JetStream domain
HUB_STREAM = "SITE"  # in each site's account at the hub: sources the site's stream
HUB_DOMAIN = "hub"
LOCAL_USER = "vigil"
# The hub's word to a site, in the site's account, of how far it has stored the site's stream.
ACKS = "vigil-hub.acked"


def account(site: str) -> str:
    return f"SITE_{site}"


def leaf_config(settings: FederationSettings, home: Home, credentials: Credentials,
                local_password: str) -> dict[str, Any]:  # fmt: skip
    assert settings.site is not None and settings.hub is not None  # checked by the settings
    parts = urlsplit(settings.hub)
    netloc = f"{credentials.user}:{credentials.password}@{parts.netloc}"
    return {
        "server_name": f"site-{settings.site}",
        "listen": f"127.0.0.1:{settings.client_port}",
        "http": f"127.0.0.1:{settings.monitor_port}",
        "pid_file": str(home.nats_pid),
        "authorization": {"users": [{"user": LOCAL_USER, "password": local_password}]},
        "jetstream": {
            "store_dir": str(home.store),
            "domain": settings.site,
            # JetStream's default (fsync every 2 minutes) lost acknowledged writes on power
            # failure (Jepsen, 2.12.1); the uplink's cursor may only move past what is on disk.
            "sync_interval": "always",
            "max_file_store": settings.max_bytes + settings.max_bytes // 10,
        },
        "leafnodes": {
            "reconnect_interval": "1s",
            "remotes": [
                {
                    "urls": [urlunsplit(("tls", netloc, "", "", ""))],
                    "tls": {
                        "ca_file": str(home.ca),
                        "cert_file": str(home.cert),
                        "key_file": str(home.key),
                        "timeout": 5,
                    },
                }
            ],
        },
    }


# What a site's leaf may not send into its account at the hub: requests to the hub's own
# JetStream API (it could delete the stream the hub keeps of it) and system subjects.
LEAF_DENIED = ["$JS.API.>", f"$JS.{HUB_DOMAIN}.API.>", "$SYS.>", "$KV.>", "$O.>"]


def hub_config(settings: FederationSettings, home: Home, sites: list[SiteSecrets],
               local_password: str) -> dict[str, Any]:  # fmt: skip
    accounts: dict[str, Any] = {
        account(site.site): {
            "jetstream": "enabled",
            "users": [
                {
                    "user": site.leaf_user,
                    "password": site.leaf_password,
                    "permissions": {"publish": {"deny": LEAF_DENIED}},
                },
                {"user": site.ingest_user, "password": site.ingest_password},
            ],
        }
        for site in sites
    }
    # The hub's own account, for `vigil federation status` and the console's link states.
    accounts["HUB"] = {"users": [{"user": LOCAL_USER, "password": local_password}]}
    return {
        "server_name": "hub",
        "listen": f"127.0.0.1:{settings.client_port}",
        "http": f"127.0.0.1:{settings.monitor_port}",
        "pid_file": str(home.nats_pid),
        "jetstream": {"store_dir": str(home.store), "domain": HUB_DOMAIN},
        "accounts": accounts,
        "leafnodes": {
            "listen": settings.leaf_listen,
            # Sites reach the hub at the address they were given, never one it advertises
            # (behind NAT, or a proxy, the advertised one is not reachable from the site).
            "no_advertise": True,
            "tls": {
                "ca_file": str(home.ca),
                "cert_file": str(home.cert),
                "key_file": str(home.key),
                "verify": True,  # a leaf must show a certificate of this federation's CA
                "timeout": 5,
            },
        },
    }


def render(config: dict[str, Any]) -> bytes:
    return json.dumps(config, indent=2).encode()
