"""The one base of every configuration model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently do nothing); settings never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
