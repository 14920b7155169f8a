"""Selectors that need no model: the naive W2S baseline and the random-subset control."""

from __future__ import annotations

import hashlib

from pydantic import Field

from harness import Params, SelectContext, Selector, WeakItem, hookimpl


class All(Selector):
    """Keep every weakly labelled item: the naive weak-to-strong baseline."""

    name = "all"
    version = 1

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        return list(pool)


class Random(Selector):
    """Keep a seeded random fraction of the weak pool (the paper's Appendix L control)."""

    name = "random"
    version = 1

    class Params(Params):
        ratio: float = Field(0.5, gt=0, le=1, description="fraction of the pool to keep")
        per_capability: bool = Field(
            True, description="take the ratio within each capability, keeping the mixture"
        )

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        groups: dict[str, list[WeakItem]] = {}
        for item in pool:
            key = item.capability if self.params.per_capability else ""
            groups.setdefault(key, []).append(item)
        keep: set[str] = set()
        for items in groups.values():
            # Order by a seeded hash of the id: the choice does not depend on the pool's order.
            ranked = sorted(items, key=lambda i: hashlib.sha256(f"{ctx.seed}:{i.id}".encode())
                            .hexdigest())
            keep.update(i.id for i in ranked[: max(1, round(len(items) * self.params.ratio))])
        return [item for item in pool if item.id in keep]


@hookimpl
def register_selectors(register):
    register(All)
    register(Random)
