"""The paper's five findings from a run's results: methods recognised by what they are, and
verdicts that follow the intervals (synthetic per-item scores, so each verdict is known)."""

from __future__ import annotations

import random

from harness.findings import findings, roles
from harness.models import CapabilityResult, Suite, TransferResult

CAPS = ("c1", "c2")
SUITE = Suite.model_validate({
    "name": "s", "weak": "w", "strong": "s", "seeds": [0, 1, 2], "mixtures": ["joint", "single"],
    "capabilities": [{"name": c} for c in CAPS],
    "methods": [
        {"name": "plain", "selector": {"name": "all"}},
        {"name": "rm", "selector": {"name": "reward_model"}, "trainer": {"name": "two_stage"}},
        {"name": "rand", "selector": {"name": "random"}, "trainer": {"name": "two_stage"}},
        {"name": "more-epochs", "selector": {"name": "all"}, "trainer": {"name": "two_stage"}},
        {"name": "boot", "selector": {"name": "all"}, "trainer": {"name": "self_bootstrap"}},
    ]})
# W2S accuracy by method: rm best, bootstrap worst; weak 0.3, ceiling 0.8.
W2S = {"plain": 0.5, "rm": 0.65, "rand": 0.5, "more-epochs": 0.5, "boot": 0.35}
LABEL_ACC = {"plain": 0.4, "rm": 0.7, "rand": 0.4, "more-epochs": 0.4, "boot": 0.3}


def _scores(rng: random.Random, accuracy: float, n: int = 300) -> list[float]:
    return [float(rng.random() < accuracy) for _ in range(n)]


def _results() -> list[CapabilityResult]:
    out = []
    for seed in (0, 1, 2):
        for mixture in ("joint", "single"):
            for cap in CAPS:
                rng = random.Random(f"{seed}{cap}")
                weak, ceiling = _scores(rng, 0.3), _scores(rng, 0.8)
                for method, acc in W2S.items():
                    w2s = _scores(random.Random(f"{seed}{cap}{method}{mixture}"), acc)
                    out.append(CapabilityResult(
                        run_id="r", suite="s", seed=seed, mixture=mixture, method=method,
                        capability=cap, weak=sum(weak) / 300, ceiling=sum(ceiling) / 300,
                        w2s=sum(w2s) / 300, pgr=None, n_test=300,
                        items={"weak": weak, "w2s": w2s, "ceiling": ceiling},
                        analysis={"train_label_acc": LABEL_ACC[method] + 0.01 * seed,
                                  "train_distinct_2": 0.5}))
    return out


def test_methods_are_recognised_by_selector_and_trainer():
    assert roles(SUITE) == {"naive": "plain", "rm-two-stage": "rm",
                            "random-two-stage": "rand", "epoch-matched": "more-epochs",
                            "self-bootstrap": "boot"}


def test_each_verdict_follows_its_intervals():
    transfer = [TransferResult(run_id="r", seed=0, method="plain", trained_on=a,
                               evaluated_on=b, accuracy=0.5) for a in CAPS for b in CAPS]
    found = {f.number: f for f in findings(SUITE, _results(), transfer)}
    assert [found[n].verdict for n in range(1, 6)] == \
        ["holds", "inconclusive", "holds", "holds", "holds"]
    assert "rm" in found[1].evidence[0] and "transfer: plain trained on c1" in \
        " ".join(found[2].evidence)
    # rm no better than random: finding 5 no longer holds.
    flat = [r.model_copy(update={"items": {**r.items, "w2s": next(
        x for x in _results() if (x.seed, x.mixture, x.capability, x.method)
        == (r.seed, r.mixture, r.capability, "rand")).items["w2s"]}})
        if r.method == "rm" else r for r in _results()]
    assert findings(SUITE, flat, [])[4].verdict != "holds"
    # Without the methods a finding needs, it is not measured.
    only_naive = SUITE.model_copy(update={"methods": SUITE.methods[:1]})
    rows = [r for r in _results() if r.method == "plain"]
    assert findings(only_naive, rows, [])[4].verdict == "not measured"
