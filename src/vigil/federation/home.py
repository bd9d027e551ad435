"""The files federation keeps under federation.directory (default <storage>/federation), named
in one place: the CA and certificates, each site's secrets at the hub, the NATS store."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vigil.errors import ConfigError
from vigil.storage.layout import PRIVATE_DIR, write_private


@dataclass(frozen=True)
class SiteSecrets:
    """What the hub keeps for one site: the leaf's password and the hub's ingest password in
    the site's NATS account."""

    site: str
    leaf_password: str
    ingest_password: str

    @classmethod
    def new(cls, site: str) -> SiteSecrets:
        return cls(site, secrets.token_urlsafe(24), secrets.token_urlsafe(24))

    @property
    def leaf_user(self) -> str:
        return f"leaf-{self.site}"

    @property
    def ingest_user(self) -> str:
        return f"ingest-{self.site}"


@dataclass(frozen=True)
class Credentials:
    """The site's side, made by `vigil federation add-site` and carried to the site: its NATS
    user and password at the hub, the CA, and its TLS client certificate and key."""

    site: str
    user: str
    password: str
    ca: str
    cert: str
    key: str

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except OSError as exc:
            raise ConfigError(
                f"federation.credentials {path}: cannot read it ({exc.strerror}); copy the file "
                "`vigil federation add-site` made at the hub"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"federation.credentials {path}: not a site credentials file ({exc}); make it "
                "again with `vigil federation add-site SITE` at the hub"
            ) from None

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2).encode())


class Home:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = root / "ca.pem"
        self.ca_key = root / "ca-key.pem"  # the hub's only: it signs the sites' certificates
        self.cert = root / "tls.pem"  # this node's certificate (the hub's, or the site's)
        self.key = root / "tls-key.pem"
        self.sites = root / "sites"  # at the hub: <site>.json, SiteSecrets
        self.store = root / "jetstream"
        self.nats_config = root / "nats.conf"
        self.nats_pid = root / "nats.pid"
        self.local = root / "local-password"  # Vigil's own user at its NATS server

    def create(self) -> None:
        self.root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(self.root, PRIVATE_DIR)

    def local_password(self) -> str:
        """The password of Vigil's own processes at the node's NATS server, made on first use."""
        if not self.local.exists():
            write_private(self.local, secrets.token_urlsafe(24).encode())
        return self.local.read_text().strip()

    def site_secrets(self) -> list[SiteSecrets]:
        if not self.sites.is_dir():
            return []
        found = []
        for path in sorted(self.sites.glob("*.json")):
            data = json.loads(path.read_text())
            found.append(SiteSecrets(data["site"], data["leaf_password"], data["ingest_password"]))
        return found

    def save_site(self, site: SiteSecrets) -> None:
        self.sites.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        write_private(self.sites / f"{site.site}.json", json.dumps(asdict(site)).encode())
