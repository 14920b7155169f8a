"""A capability's example, normalised: the one record every stage, plugin and extraction step
reads, whatever the dataset's own format. Kept apart from the plugin bases so the extraction
steps the bases run can read it without importing them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Row(BaseModel):
    """One normalised example of a capability, the same whatever the source format."""

    model_config = ConfigDict(extra="forbid")

    id: str
    capability: str = ""
    prompt: str
    target: str
    """What the model is trained to emit (may carry an explanation before the answer)."""
    answer: str
    """The gold answer the scorer compares against."""
    choices: list[str] | None = None
    explanation: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
