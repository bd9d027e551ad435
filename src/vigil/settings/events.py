"""Configuration of event publishing."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from vigil.settings.base import Strict


class MqttSettings(Strict):
    """An MQTT broker that receives events and camera states (QoS 1)."""

    host: str
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = "vigil"
    client_id: str = Field("vigil", min_length=1, max_length=64)
    username: str | None = None
    # A SecretStr prints as '**********', so the password cannot reach a log or a repr.
    password: SecretStr | None = None
    keepalive: float = Field(30.0, ge=5)
    queue_size: int = Field(
        1000, ge=1, description="messages kept while the broker is unreachable; more are dropped"
    )

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        bad = not value or value[0] == "/" or value[-1] == "/"
        if bad or any(c in value for c in "+#") or any(c.isspace() for c in value):
            raise ValueError(
                f"topic_prefix {value!r} must be a topic such as 'vigil' or 'site/vigil': "
                "no wildcards (+ #), spaces, or leading/trailing '/'"
            )
        return value
