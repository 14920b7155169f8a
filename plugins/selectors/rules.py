"""What scoring selectors share: rules that keep the best-scored items by ratio, count or
threshold, within each capability (keeping the mixture) or over the whole pool; and the choice
of whose strong answers to compare the weak labels with."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, model_validator

from harness import Params, Signal, WeakItem


class RuleParams(Params):
    rule: Literal["ratio", "top_k", "threshold"] = Field(
        "ratio", description="keep a fraction, a count, or every item scoring at least a value")
    ratio: float = Field(0.5, gt=0, le=1, description="rule ratio: the share kept")
    top_k: int | None = Field(None, ge=1, description="rule top_k: how many are kept")
    threshold: float | None = Field(None, description="rule threshold: the lowest score kept")
    per_capability: bool = Field(
        True, description="apply the rule within each capability rather than over the pool")

    def kept(self) -> float:
        """The share of a pool the rule keeps, for sizing: its ratio; for a count or a
        threshold, at most all of it."""
        return self.ratio if self.rule == "ratio" else 1.0

    @model_validator(mode="after")
    def _complete(self):
        if self.rule == "top_k" and self.top_k is None:
            raise ValueError("rule top_k needs top_k")
        if self.rule == "threshold" and self.threshold is None:
            raise ValueError("rule threshold needs threshold")
        return self


class StrongAnswerParams(Params):
    strong: Literal["student", "base"] = Field(
        "student", description="whose answers to compare with: the strong model fine-tuned on "
        "every weak label (naive W2S), or the strong base model as it is")

    def signal(self) -> Signal:
        """The pipeline signal that carries those answers."""
        return "student_answer" if self.strong == "student" else "base_answer"


def tiebreak(seed: int, item_id: str) -> str:
    """A seeded order over ids that does not depend on the pool's order."""
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def keep(pool: list[WeakItem], scores: dict[str, float], rule: RuleParams,
         seed: int) -> list[WeakItem]:
    """The items the rule keeps, in pool order; equal scores are broken by a seeded hash."""
    groups: dict[str, list[WeakItem]] = {}
    for item in pool:
        groups.setdefault(item.capability if rule.per_capability else "", []).append(item)
    kept: set[str] = set()
    for items in groups.values():
        ranked = sorted(items, key=lambda i: (-scores[i.id], tiebreak(seed, i.id)))
        if rule.rule == "threshold":
            kept.update(i.id for i in ranked if scores[i.id] >= rule.threshold)
            continue
        n = rule.top_k if rule.rule == "top_k" else max(1, round(len(items) * rule.ratio))
        kept.update(i.id for i in ranked[:n])
    return [item for item in pool if item.id in kept]
