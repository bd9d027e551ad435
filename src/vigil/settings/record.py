"""What is recorded: segment length, and everything (continuous) or footage around events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.settings.base import Strict


class RecordSettings(Strict):
    """The global `record:` block; a camera's own `record:` block has the same fields, and
    those it sets override the global ones (`VigilConfig.record_for`).

    A segment overlapping [event start - pre_seconds, event end + post_seconds] is an event
    segment; it is kept for event_retention_days (default: the camera's retention_days), which
    may be longer than continuous footage is kept. In `events` mode only event segments are
    kept.
    """

    segment_seconds: float = Field(
        10.0, ge=1, le=300, description="target segment length; cuts happen at keyframes"
    )
    mode: Literal["continuous", "events"] = "continuous"
    pre_seconds: float = Field(5.0, ge=0, le=300)
    post_seconds: float = Field(5.0, ge=0, le=300)
    event_retention_days: float | None = Field(None, gt=0)

    def over(self, base: RecordSettings) -> RecordSettings:
        """These settings where they are set, `base` elsewhere."""
        return base.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})

    @property
    def keeps_event_footage_longer(self) -> bool:
        """Whether retention must look at events at all (else it is by age alone)."""
        return self.mode == "events" or self.event_retention_days is not None
