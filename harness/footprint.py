"""What a plugin that trains or selects tells ``harness plan`` about its work, so sizing reads
no plugin's params by name and a plugin can rename its own freely.

A trainer or selector opts in with a ``footprint()`` method (the ``Sizable`` protocol); one
without it is sized with ``Footprint()``'s defaults. It is a protocol here, not a method of
the plugin bases, so adding it changed no plugin's cache key.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Footprint(BaseModel):
    """One training run's shape, and for a selector the share of its pool it keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    micro_batch_size: int = Field(8, ge=1)
    batch_size: int = Field(8, ge=1, description="effective batch over every process")
    max_length: int = Field(1024, ge=1, description="tokens; longer examples are cut")
    epochs: float = Field(1.0, ge=0)
    max_steps: int | None = Field(None, ge=1, description="overrides epochs when set")
    lora_rank: int | None = Field(None, ge=1, description="LoRA's rank (None: all weights train)")
    quantized: bool = Field(False, description="LoRA over a 4-bit base (QLoRA)")
    gradient_checkpointing: bool = False
    keeps: float = Field(1.0, ge=0, le=1, description="a selector's kept share (an upper bound)")


@runtime_checkable
class Sizable(Protocol):
    def footprint(self) -> Footprint: ...


def footprint_of(plugin: object) -> Footprint:
    """``plugin``'s own footprint, or the defaults for a plugin that declares none."""
    return plugin.footprint() if isinstance(plugin, Sizable) else Footprint()
