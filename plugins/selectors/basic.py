"""Selectors that need no model: the naive W2S baseline."""

from __future__ import annotations

from harness import SelectContext, Selector, WeakItem, hookimpl


class All(Selector):
    """Keep every weakly labelled item: the naive weak-to-strong baseline."""

    name = "all"
    version = 1

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        return list(pool)


@hookimpl
def register_selectors(register):
    register(All)
