"""Selectors built from the pool and cheap signals: the naive baseline, the random control,
the weak model's confidence and weak-strong consistency."""

from __future__ import annotations

from pydantic import Field

from harness import Footprint, Params, SelectContext, Selector, Signal, WeakItem, hookimpl
from harness_plugins.selectors.rules import RuleParams, StrongAnswerParams, keep


class All(Selector):
    """Keep every weakly labelled item: the naive weak-to-strong baseline."""

    name = "all"
    version = 1

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        return list(pool)


class RandomParams(Params):
    ratio: float = Field(0.5, gt=0, le=1, description="fraction of the pool to keep")
    per_capability: bool = Field(
        True, description="take the ratio within each capability, keeping the mixture"
    )


class Random(Selector):
    """Keep a seeded random fraction of the weak pool (the paper's Appendix L control)."""

    name = "random"
    version = 1
    Params = RandomParams

    def footprint(self) -> Footprint:
        return Footprint(keeps=self.params.ratio)

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        rule = RuleParams(rule="ratio", ratio=self.params.ratio,
                          per_capability=self.params.per_capability)
        # Every score equal: the seeded tie-break alone orders the pool.
        return keep(pool, {i.id: 0.0 for i in pool}, rule, ctx.seed)


class Confidence(Selector):
    """Keep the labels the weak model is most confident in (mean token log-probability)."""

    name = "confidence"
    version = 1
    Params = RuleParams

    def footprint(self) -> Footprint:
        return Footprint(keeps=self.params.kept())

    def needs(self) -> set[Signal]:
        return {"weak_logprob"}

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        scores = {i.id: float(i.weak_logprob) for i in pool}  # type: ignore[arg-type]
        return keep(pool, scores, self.params, ctx.seed)


class Consistency(Selector):
    """Keep items where the weak label and the strong model's own greedy answer agree."""

    name = "consistency"
    version = 1
    Params = StrongAnswerParams

    def needs(self) -> set[Signal]:
        return {self.params.signal()}

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        return [item for item in pool if item.agree]


@hookimpl
def register_selectors(register):
    for cls in (All, Random, Confidence, Consistency):
        register(cls)
