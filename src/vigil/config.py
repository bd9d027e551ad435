"""The YAML configuration, validated by pydantic.

Frigate users will recognise the shape: one file, global sections that a camera
may override, cameras keyed by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.boundary import refused
from vigil.errors import ConfigError
from vigil.redact import redact_url
from vigil.settings.analytics import CameraAnalytics
from vigil.settings.base import Strict
from vigil.settings.detector import DetectorSettings
from vigil.settings.events import MqttSettings
from vigil.settings.federation import FederationSettings
from vigil.settings.record import RecordSettings
from vigil.storage.layout import Layout

CAMERA_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]?i?b?)\s*$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_stream_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("rtsp", "rtsps"):
        if not parts.hostname:
            raise ValueError(f"{redact_url(url)!r} has no host; write rtsp://host[:port]/path")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"{redact_url(url)!r} has a bad port: {exc}") from None
        return url
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"{url!r} is not a file URL; write file:///absolute/path/video.mp4")
        return url
    raise ValueError(
        f"{redact_url(url)!r} is not a supported stream URL; use rtsp://, rtsps:// or file:///"
    )


class MinFree(Strict):
    """A free-space floor: a fraction of the filesystem or a number of bytes."""

    fraction: float | None = None
    bytes: int | None = None

    def floor_bytes(self, total_bytes: int) -> int:
        if self.fraction is not None:
            return int(total_bytes * self.fraction)
        return self.bytes or 0


def parse_size(value: Any) -> MinFree:
    if isinstance(value, MinFree):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return MinFree(bytes=value)
    match = SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size; write a percentage like 10% or bytes like 20GB")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        if not 0 <= number < 100:
            raise ValueError(f"{value!r}: a percentage must be between 0% and 99%")
        return MinFree(fraction=number / 100)
    base = 1024 if "i" in unit else 1000
    exponent = "bkmgt".index(unit[0]) if unit else 0
    return MinFree(bytes=int(number * base**exponent))


class StorageConfig(Strict):
    path: Path = Path("/var/lib/vigil")
    min_free: Annotated[MinFree, Field(validate_default=True)] = "10%"  # type: ignore[assignment]
    janitor_interval: float = Field(5.0, gt=0, description="seconds between retention passes")

    @field_validator("min_free", mode="before")
    @classmethod
    def _size(cls, value: Any) -> MinFree:
        return parse_size(value)


class DatabaseConfig(Strict):
    url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite at <storage.path>/vigil.db"
    )


class ApiConfig(Strict):
    """The operator console and REST API, served by `vigil run`."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For is believed, e.g. [127.0.0.1/32]; "
        "none by default: the peer address is the caller",
    )
    tile_url: str | None = Field(
        None,
        description="map tiles, e.g. https://tiles.example/{z}/{x}/{y}.png; none: offline map",
    )

    @field_validator("tile_url")
    @classmethod
    def _tiles(cls, value: str | None) -> str | None:
        if value is not None and not all(f"{{{k}}}" in value for k in "xyz"):
            raise ValueError(f"{value!r} must contain {{z}}, {{x}} and {{y}}")
        return value


class AuditConfig(Strict):
    """The audit trail is always on; only how often it is signed can be chosen."""

    checkpoint_every: int = Field(
        100, ge=1, description="records between signed checkpoints of the audit chain"
    )
    signing_key: Path | None = Field(
        None, description="Ed25519 private key (PEM); default <storage.path>/audit/signing.pem"
    )


class IngestConfig(Strict):
    transport: Literal["tcp", "udp"] = "tcp"
    stall_timeout: float = Field(20.0, gt=0, description="seconds without packets = hung")
    backoff_max: float = Field(30.0, gt=0)


def _camera_name(name: str) -> str:
    # The name becomes a directory and a URL path segment, so it is kept to a safe alphabet.
    if not CAMERA_NAME.match(name):
        raise ValueError(
            f"camera name {name!r} must be 1-63 characters of a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


CameraName = Annotated[str, AfterValidator(_camera_name)]


ANALYTICS_FIELDS = ("analysis", "zones", "lines", "unattended_object", "tamper")


class CameraConfig(CameraAnalytics):
    """A camera: its streams and recording, plus the analytics fields it inherits
    (analysis, zones, lines, unattended_object, tamper)."""

    main: str
    sub: str | None = None
    site: str | None = None
    location: tuple[float, float] | None = None
    # The public register (vigil register, GET /register) publishes these, so the people
    # under the camera can learn why it records, on what basis and who answers for it.
    purpose: str = Field(min_length=3, max_length=500, pattern=r"^[^\x00-\x1f]*$")
    legal_basis: str | None = Field(None, max_length=500)
    operator: str | None = Field(None, max_length=200)
    signage: bool | None = None  # whether signs tell the public the camera is there
    retention_days: float = Field(30.0, gt=0)
    enabled: bool = True
    transport: Literal["tcp", "udp"] | None = None
    record: RecordSettings = RecordSettings()

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("purpose"):
            raise ValueError(
                'purpose is missing: say why this camera records (e.g. purpose: "entrance of '
                'the ministry, against intrusion"); the public register publishes it'
            )
        if isinstance(data, dict) and "segment_seconds" in data:
            raise ValueError(
                "segment_seconds has moved into the camera's record block: write "
                "record: {segment_seconds: N}, as in the global record block"
            )
        return data

    def analytics(self) -> CameraAnalytics | None:
        """The camera's analysis settings, or None when it configures none (record only)."""
        configured = self.model_fields_set & set(ANALYTICS_FIELDS)
        if not configured or (configured == {"tamper"} and not self.tamper):
            return None
        return self

    @field_validator("main", "sub")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else parse_stream_url(value)

    @field_validator("location")
    @classmethod
    def _location(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180):
            raise ValueError("location must be [latitude, longitude] in degrees")
        return value


class EvidenceConfig(Strict):
    """Holds (how long footage is kept for a case unless released earlier) and exports."""

    hold_days: float = Field(90, gt=0, description="a hold's expiry when its request names none")
    max_hold_days: float = Field(
        365, gt=0, description="the longest expiry a hold may be requested with"
    )
    export_days: float = Field(
        30,
        gt=0,
        description="days a finished export package stays on this node before it is removed "
        "(it is a copy of footage: once taken, it is the recipient's to keep)",
    )
    redact_fps: float = Field(
        5.0,
        gt=0,
        le=60,
        description="person detections per second of footage in a redacted export; the "
        "frames between are covered by both neighbours' boxes",
    )

    @model_validator(mode="after")
    def _default_within_maximum(self) -> EvidenceConfig:
        if self.hold_days > self.max_hold_days:
            raise ValueError("evidence.hold_days must not exceed evidence.max_hold_days")
        return self


# The account roles (vigil.accounts.roles.Role, which a test holds equal to this).
RoleName = Literal["viewer", "investigator", "admin", "auditor", "supervisor", "witness"]
# Unless configured: a viewer watches live only; every other role, the camera's retention.
DEFAULT_LOOKBACK_DAYS: dict[str, float | None] = {"viewer": 0.0}


class RoleSettings(Strict):
    """What an account's role allows beyond the access table."""

    lookback_days: float | None = Field(
        None,
        ge=0,
        validation_alias=AliasChoices("lookback_days", "lookback"),
        description="how far back footage may be watched, in days; 0: live only; null: the "
        "camera's whole retention",
    )
    mask_lift: bool = Field(
        False,
        description="may ask for a camera's privacy masks to be lifted (no role may by default)",
    )


class PrivacyConfig(Strict):
    """Lifting privacy masks: whether a second account must approve, and for how long."""

    lift_approval: bool = Field(True, description="a lift waits for a second account's approval")
    lift_minutes: float = Field(30, gt=0, le=24 * 60, description="a lift lasts at most this")


class VigilConfig(Strict):
    storage: StorageConfig = StorageConfig()
    database: DatabaseConfig = DatabaseConfig()
    record: RecordSettings = RecordSettings()
    ingest: IngestConfig = IngestConfig()
    mqtt: MqttSettings | None = None
    api: ApiConfig = ApiConfig()
    audit: AuditConfig = AuditConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    detector: DetectorSettings = DetectorSettings()
    roles: dict[RoleName, RoleSettings] = Field(default_factory=dict)
    privacy: PrivacyConfig = PrivacyConfig()
    cameras: dict[CameraName, CameraConfig] = Field(default_factory=dict)
    federation: FederationSettings | None = None

    @model_validator(mode="after")
    def _one_database(self) -> VigilConfig:
        if self.is_hub and self.database.url is not None:
            raise ValueError("a hub's database is federation.database; remove database.url")
        return self

    def lookback_days(self, roles: Iterable[str]) -> float | None:
        """How far back an account holding `roles` may look: the furthest any of them may
        (None: no limit but retention)."""
        days = [
            self.roles[role].lookback_days if role in self.roles
            else DEFAULT_LOOKBACK_DAYS.get(role)
            for role in roles
        ]  # fmt: skip
        if not days or None in days:
            return None if days else 0.0
        return max(d for d in days if d is not None)

    def may_lift_masks(self, roles: Iterable[str]) -> bool:
        return any(role in self.roles and self.roles[role].mask_lift for role in roles)

    @property
    def is_hub(self) -> bool:
        return self.federation is not None and self.federation.role == "hub"

    def database_url(self) -> str:
        if self.federation is not None and self.federation.database is not None:
            return self.federation.database
        return self.database.url or f"sqlite:///{Layout(self.storage.path).database}"

    def record_for(self, camera: str) -> RecordSettings:
        """The camera's record settings over the global ones; the global ones for a camera
        that is no longer configured (its footage is still kept and expired)."""
        settings = self.cameras.get(camera)
        return self.record if settings is None else settings.record.over(self.record)

    def transport(self, camera: str) -> str:
        return self.cameras[camera].transport or self.ingest.transport


def _outside_the_boundary(node: yaml.Node, path: tuple[str, ...], problems: list[str]) -> None:
    """Keys that ask for what Vigil never does (vigil.boundary) are refused by name."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            where = ".".join((*path, name))
            if capability := refused(name):
                problems.append(
                    f"{where} (line {key.start_mark.line + 1}): Vigil does not provide "
                    f"{capability}, by design and under no option; remove the key (README, "
                    "What Vigil will not do)"
                )
            _outside_the_boundary(value, (*path, name), problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _outside_the_boundary(item, (*path, str(index)), problems)


def _duplicate_keys(node: yaml.Node, path: tuple[str, ...], problems: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                where = ".".join((*path, name))
                problems.append(
                    f"{where} (line {line}): duplicate key, first defined on line {seen[name]};"
                    " give each entry a unique name"
                )
            seen.setdefault(name, line)
            _duplicate_keys(value, (*path, name), problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, (*path, str(index)), problems)


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node = root
    line = None if root is None else root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if str(kv[0].value) == str(part)), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# libyaml's loader: ten times the pure-Python one, which every camera process paid at start-up.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_config(text: str, source: str = "<config>") -> VigilConfig:
    """Validate a YAML document; every problem is reported with its key path and line."""
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
        data = yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    problems: list[str] = []
    if root is not None:
        _duplicate_keys(root, (), problems)
        _outside_the_boundary(root, (), problems)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append("(top level): must be a mapping with storage: and cameras: sections")
    else:
        try:
            config = VigilConfig.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(p for p in error["loc"] if p != "[key]")
                where = ".".join(str(p) for p in loc) or "(top level)"
                line = _line_of(root, loc)
                at = f" (line {line})" if line else ""
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
                    if loc and refused(str(loc[-1])):
                        continue  # said already: outside the boundary
                    message = "unknown key; check its spelling against the README"
                problems.append(f"{where}{at}: {message}")
        else:
            if not problems:
                return config
    raise ConfigError(
        f"{source}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems),
        [f"{source}: {p}" for p in problems],
    )


def load_config(path: Path) -> VigilConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    return parse_config(text, str(path))
