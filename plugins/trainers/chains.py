"""Trainers made of several training runs: the paper's two-stage training and self-bootstrapping.

They declare their runs as ``steps``; the pipeline runs each step with an inner trainer (``sft``
by default) and caches it as its own stage. A step with no params of its own trains exactly as
the naive method does, so the first stage of two-stage training and the first round of
self-bootstrapping are the naive W2S model, trained once and shared.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness import Params, Step, Trainer, hookimpl


class TwoStage(Trainer):
    """Stage 1 on every weak label, then stage 2 on the selected ones (the paper's method)."""

    name = "two_stage"
    hub_models = False  # its steps' trainers load the models
    version = 1

    class Params(Params):
        trainer: str = Field("sft", description="the trainer of each stage")
        stage1: dict[str, Any] = Field(
            default_factory=dict, description="params of stage 1 over the suite's train params")
        stage2: dict[str, Any] = Field(
            default_factory=dict, description="params of stage 2, e.g. {epochs: 1}")

    def steps(self) -> list[Step]:
        p = self.params
        return [Step("pool", p.trainer, p.stage1), Step("selected", p.trainer, p.stage2)]


class SelfBootstrap(Trainer):
    """The W2S model relabels the unlabeled prompts with its own answers and retrains, N rounds."""

    name = "self_bootstrap"
    hub_models = False  # its steps' trainers load the models
    version = 1

    class Params(Params):
        trainer: str = Field("sft", description="the trainer of each round")
        rounds: int = Field(2, ge=1, description="relabel-and-retrain rounds after W2S training")
        restart: bool = Field(
            True, description="each round trains the strong base model afresh; false continues "
            "from the previous round's model")
        temperature: float = Field(0.0, ge=0, description="0: greedy labels; above 0: sampled")
        first: dict[str, Any] = Field(
            default_factory=dict, description="params of the first run, on the weak labels")
        round: dict[str, Any] = Field(default_factory=dict, description="params of each round")

    def steps(self) -> list[Step]:
        p = self.params
        again = Step("self", p.trainer, p.round, p.restart, p.temperature)
        return [Step("selected", p.trainer, p.first), *[again] * p.rounds]


@hookimpl
def register_trainers(register):
    register(TwoStage)
    register(SelfBootstrap)
