"""Probe students: a linear (logistic) or kNN read-out of the frozen strong model's hidden
states, trained on weak labels (Burns et al. 2023, "Weak-to-strong generalization", report
linear-probe students beside fine-tuned ones; EleutherAI/w2s has logistic and kNN probes).

A fine-tuned student reproduces its labels' error rate (docs/controls.md); a probe with few
parameters on features that already separate the classes cannot fit random errors item by
item, so where the model knows the answer the probe can be right where its labels are not.

**Its settings are chosen without gold.** The layer and the regularisation (logistic: C;
kNN: k) are chosen by cross-validation on the weak labels alone: each candidate is trained on
some folds of the weak-labelled pool and scored against the weak labels of the others. That is
sound when a label's error does not depend on the input: with K classes and labels right with
probability q, a predictor right on a share a of the items agrees with the labels on
q a + (1 - q)(1 - a)/(K - 1) of them on average, a line in a that rises whenever q > 1/K. So
the setting that agrees best with held-out weak labels is, in expectation, the one most often
right. Where errors follow the input (the negative control), the labels' rule is what agrees
best, and the probe learns it: as it must.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness import Features, Head, Params, hookimpl


class ProbeParams(Params):
    kind: Literal["logistic", "knn"] = Field(
        "logistic", description="logistic: L2-regularised logistic regression (scikit-learn); "
                                "knn: k nearest neighbours, majority vote")
    layers: list[int] = Field(
        [-1], min_length=1, description="the layers to choose among (0: the embeddings; -1: "
                                        "the last block's output)")
    C: list[float] = Field(
        [0.001, 0.01, 0.1, 1.0], min_length=1,
        description="logistic: the inverse regularisation strengths to choose among")
    k: list[int] = Field([5, 10, 20, 40], min_length=1,
                         description="knn: the neighbour counts to choose among")
    folds: int = Field(5, ge=2, description="cross-validation folds over the weak labels")
    repeats: int = Field(3, ge=1, description="cross-validation repeats (new fold draws), "
                                              "averaged, so the choice varies less by draw")


def estimator(kind: str, setting: float, n_train: int, seed: int) -> Any:
    """The standardised read-out for one setting (C, or k capped at the training size)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "knn":
        return make_pipeline(StandardScaler(),
                             KNeighborsClassifier(n_neighbors=max(1, min(int(setting), n_train))))
    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=setting, max_iter=5000, random_state=seed))


def choose(p: ProbeParams, train: Features, labels: list[str], seed: int
           ) -> tuple[int, float, dict[str, Any]]:
    """The layer and setting whose cross-validated agreement with the weak labels is highest
    (ties: the first in ``layers`` order, then the strongest regularisation), and the grid of
    agreements that decided it."""
    from sklearn.model_selection import RepeatedKFold, cross_val_score

    settings = sorted(p.C) if p.kind == "logistic" else sorted(p.k, reverse=True)
    n = len(labels)
    if len(set(labels)) < 2 or n < p.folds:
        return p.layers[0], settings[0], {"grid": {}, "cv_agreement": None}
    cv = RepeatedKFold(n_splits=p.folds, n_repeats=p.repeats, random_state=seed)
    inner = n - n // p.folds
    grid: dict[str, float] = {}
    best: tuple[float, int, float] | None = None
    for layer in p.layers:
        for s in settings:
            value = float(cross_val_score(estimator(p.kind, s, inner, seed),
                                          train.layers[layer], labels, cv=cv).mean())
            grid[f"layer {layer} {'C' if p.kind == 'logistic' else 'k'} {s:g}"] = value
            if best is None or value > best[0]:
                best = (value, layer, s)
    assert best is not None
    return best[1], best[2], {"grid": grid, "cv_agreement": best[0]}


def fitted(p: ProbeParams, train: Features, labels: list[str], seed: int
           ) -> tuple[Any, int, dict[str, Any]]:
    """The chosen read-out refitted on every weak label, its layer, and the record of its
    choice (``choose``); a pool of one class gives a constant predictor."""
    layer, setting, record = choose(p, train, labels, seed)
    record = {"kind": p.kind, "layer": layer, "C" if p.kind == "logistic" else "k": setting,
              "n": len(labels), **record}
    if len(set(labels)) < 2:
        return Constant(labels[0] if labels else ""), layer, record
    model = estimator(p.kind, setting, len(labels), seed).fit(train.layers[layer], labels)
    return model, layer, record


class Constant:
    """Predicts one answer everywhere: the read-out of a pool whose labels are all one class."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def predict(self, x: Any) -> list[str]:
        return [self.answer] * len(x)


class Probe(Head):
    """Logistic or kNN probe on frozen strong features (Burns et al. 2023; EleutherAI/w2s).

    Its layer and regularisation are chosen on the weak labels alone (``choose``)."""

    name = "probe"
    version = 1
    Params = ProbeParams
    params: ProbeParams

    def layers(self) -> list[int]:
        return list(self.params.layers)

    def fit_predict(self, train: Features, labels: list[str], test: Features,
                    seed: int) -> tuple[list[str], dict[str, Any]]:
        model, layer, record = fitted(self.params, train, labels, seed)
        return [str(a) for a in model.predict(test.layers[layer])], record


@hookimpl
def register_trainers(register):
    register(Probe)
