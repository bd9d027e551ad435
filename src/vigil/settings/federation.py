"""Configuration of federation: a site that reports to a hub, or the hub of many sites."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from vigil.settings.base import Strict

SITE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")  # a NATS subject token and domain
LEAF_SCHEMES = ("nats-leaf", "tls")


def site_name(name: str) -> str:
    if not SITE_NAME.match(name):
        raise ValueError(
            f"site name {name!r} must be 1-31 characters of a-z, 0-9 or '-', starting with a "
            "letter or digit (it names the site's NATS subjects and JetStream domain)"
        )
    return name


class FederationSettings(Strict):
    """`role: site` reports to a hub over a leaf-node NATS server; `role: hub` runs the hub's
    NATS server, ingest, API and console over PostgreSQL."""

    role: Literal["site", "hub"]
    site: str | None = Field(None, description="this site's name (role: site)")
    hub: str | None = Field(
        None, description="the hub's leaf-node address, tls://host:7422 (role: site)"
    )
    credentials: Path | None = Field(
        None, description="the site's credentials file from `vigil federation add-site`"
    )
    uplink_kbps: float = Field(
        512, gt=0, description="the most footage retrieval may send to the hub, kbit/s"
    )
    max_age_days: float = Field(
        14, gt=0, description="how long the site's stream keeps messages the hub has not taken"
    )
    max_bytes: int = Field(
        2 * 10**9, gt=0, description="the most disk the site's stream may use, bytes"
    )
    leaf_watchdog_s: float = Field(
        120,
        gt=0,
        description="restart the leaf when it has been disconnected this long while the hub "
        "answers (nats-server #7615)",
    )
    database: str | None = Field(
        None, description="the hub's PostgreSQL, postgresql+psycopg://... (role: hub)"
    )
    leaf_listen: str = Field(
        "0.0.0.0:7422", description="where the hub takes the sites' leaf connections"
    )
    hostnames: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="the names and addresses sites reach the hub by (its TLS certificate)",
    )
    client_port: int = Field(4222, ge=1, le=65535, description="NATS clients, on 127.0.0.1")
    monitor_port: int = Field(8222, ge=1, le=65535, description="NATS monitoring, 127.0.0.1")
    directory: Path | None = Field(
        None, description="keys, certificates and the NATS store; default <storage>/federation"
    )

    @field_validator("site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return None if value is None else site_name(value)

    @field_validator("hub")
    @classmethod
    def _hub(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in LEAF_SCHEMES or not parts.hostname or parts.username:
            raise ValueError(
                f"{value!r} is not a hub address; write tls://host:7422 (the credentials come "
                "from federation.credentials, never the URL)"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> FederationSettings:
        if self.role == "site":
            if self.database is not None:
                raise ValueError(
                    "federation.database is the hub's; a site keeps database.url (or SQLite)"
                )
            missing = [n for n in ("site", "hub", "credentials") if getattr(self, n) is None]
            if missing:
                raise ValueError(
                    f"federation role site needs {', '.join(missing)}: the site's name, the "
                    "hub's address and the credentials file `vigil federation add-site` made"
                )
        elif self.database is None or not self.database.startswith("postgresql"):
            raise ValueError(
                "federation role hub needs database: postgresql+psycopg://user@host/db (the hub "
                "keeps every site's events in partitioned PostgreSQL tables)"
            )
        return self

    def home(self, storage: Path) -> Path:
        return self.directory or storage / "federation"
