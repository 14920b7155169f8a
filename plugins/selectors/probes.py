"""Probe selectors (EleutherAI/w2s's ``probe_relabel`` and ``probe_filter``): a logistic or
kNN probe on the untuned strong model's features, fitted on the weak labels (its layer and
regularisation chosen on them alone, as the ``probe`` student's), then either relabels each
item to the probe's answer or keeps only the items where the two agree. What it keeps feeds
any trainer.

Each item is judged by a probe that never saw its own label: the predictions are
cross-fitted (out of fold), so an item's label cannot vote for itself, which in-sample a
flexible probe would let it do.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness import SelectContext, Selector, WeakItem, hookimpl
from harness_plugins.trainers.probe import ProbeParams, choose, estimator


def cross_fitted(p: ProbeParams, pool: list[WeakItem], ctx: SelectContext
                 ) -> dict[str, str]:
    """The probe's out-of-fold answer for each pool item with a readable label, by id."""
    from sklearn.model_selection import KFold, cross_val_predict

    from harness.bases import Features

    found = ctx.features()
    at = {i: n for n, i in enumerate(found.ids)}
    known = [i for i in pool if i.answer is not None]
    labels = [str(i.answer) for i in known]
    rows = [at[i.id] for i in known]
    train = Features(ids=[i.id for i in known],
                     layers={n: v[rows] for n, v in found.layers.items()})
    if len(set(labels)) < 2 or len(labels) < p.folds:
        return {i.id: str(i.answer) for i in known}
    layer, setting, _ = choose(p, train, labels, ctx.seed)
    said = cross_val_predict(estimator(p.kind, setting, len(labels) - len(labels) // p.folds,
                                       ctx.seed), train.layers[layer], labels,
                             cv=KFold(p.folds, shuffle=True, random_state=ctx.seed))
    return {i: str(a) for i, a in zip(train.ids, said)}


class _ProbeSelector(Selector):
    """What both probe selectors share: the probe's params, the features they need."""

    Params = ProbeParams
    params: ProbeParams

    def needs(self) -> set[Any]:
        return {"strong_features"}

    def layers(self) -> list[int]:
        return list(self.params.layers)


class ProbeFilter(_ProbeSelector):
    """Keep the weak labels a cross-fitted feature probe agrees with (EleutherAI/w2s).

    The probe reads the untuned strong model's features; its settings are the ``probe``
    student's, chosen on the weak labels alone."""

    name = "probe_filter"
    version = 1

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        said = cross_fitted(self.params, pool, ctx)
        return [i for i in pool if i.answer is not None and said.get(i.id) == i.answer]


class ProbeRelabel(_ProbeSelector):
    """Relabel each weak label to a cross-fitted feature probe's answer (EleutherAI/w2s).

    The new label is the pool's commonest label text for that answer, so a relabelling only
    moves the pool's own labels."""

    name = "probe_relabel"
    version = 1
    relabels = True

    def select(self, pool: list[WeakItem], ctx: SelectContext) -> list[WeakItem]:
        said = cross_fitted(self.params, pool, ctx)
        texts: dict[str, Counter] = {}
        for i in pool:
            if i.answer is not None:
                texts.setdefault(i.answer, Counter())[i.label] += 1
        text = {a: min(c, key=lambda t: (-c[t], t)) for a, c in texts.items()}
        return [i.model_copy(update={"label": text[said[i.id]]}) if i.id in said else i
                for i in pool if i.answer is not None]


@hookimpl
def register_selectors(register):
    register(ProbeFilter)
    register(ProbeRelabel)
