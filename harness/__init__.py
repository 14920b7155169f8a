"""w2s-harness: weak-to-strong generalization benchmarks, built from plugins.

Plugins import the public names from here; this module stays import-cheap (no torch, no vllm).
"""

from harness.bases import (
    Backend,
    Capability,
    DecodeConfig,
    Features,
    Generation,
    Head,
    Params,
    Row,
    SelectContext,
    Selector,
    Signal,
    Splits,
    SplitSizes,
    Step,
    Supervisor,
    TrainContext,
    Trainer,
    TrainExample,
    WeakItem,
)
from harness.footprint import Footprint
from harness.hookspecs import hookimpl

__all__ = [
    "Backend",
    "Capability",
    "DecodeConfig",
    "Features",
    "Footprint",
    "Generation",
    "Head",
    "Params",
    "Row",
    "SelectContext",
    "Selector",
    "Signal",
    "Splits",
    "SplitSizes",
    "Step",
    "Supervisor",
    "TrainContext",
    "TrainExample",
    "Trainer",
    "WeakItem",
    "hookimpl",
]
