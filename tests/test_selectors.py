"""Contract tests over every registered selector, plus the random control's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from typing import get_args

from harness import SelectContext, Signal, WeakItem
from harness.plugins import registry


def _pool(n: int = 60) -> list[WeakItem]:
    """Items with every signal filled in, as the pipeline fills them for a selector's needs."""
    return [WeakItem(id=f"{cap}-{i}", capability=cap, prompt=f"{cap} q{i}:", label=f" a{i}",
                     weak_logprob=-((i * 7919) % 13) / 4, strong_answer=f" a{i - i % 3}",
                     agree=i % 3 == 0)
            for cap in ("c1", "c2") for i in range(n // 2 if cap == "c1" else n)]


def _ctx(seed: int, tmp_path: Path) -> SelectContext:
    return SelectContext(seed=seed, strong_model="tiny-strong", weak_path="tiny-weak",
                         work_dir=tmp_path)


# Selectors that train no model run here; the reward model has its own tests.
MODEL_FREE = ["all", "random", "confidence", "consistency"]
SIGNALS = set(get_args(Signal))


@pytest.mark.parametrize("name", sorted(registry().entries["selectors"]))
def test_needs_name_only_signals_the_pipeline_computes(name):
    assert registry().make("selectors", name).needs() <= SIGNALS


@pytest.mark.parametrize("name", MODEL_FREE)
def test_selection_is_a_deterministic_subset_with_labels_untouched(name, tmp_path):
    selector = registry().make("selectors", name)
    pool = _pool()
    a = selector.select(pool, _ctx(0, tmp_path))
    b = selector.select(list(reversed(pool)), _ctx(0, tmp_path))
    assert {i.id for i in a} == {i.id for i in b}
    by_id = {i.id: i for i in pool}
    assert all(by_id[i.id] == i for i in a) and len({i.id for i in a}) == len(a)


@pytest.mark.parametrize("name", sorted(registry().entries["selectors"]))
def test_params_round_trip_through_json(name):
    entry = registry().get("selectors", name)
    params = entry.cls().params
    assert entry.cls(json.loads(params.model_dump_json())).params == params


def test_random_keeps_the_ratio_per_capability_and_varies_with_the_seed(tmp_path):
    selector = registry().make("selectors", "random", {"ratio": 0.25})
    pool = _pool(80)
    chosen = selector.select(pool, _ctx(0, tmp_path))
    counts = {c: sum(i.capability == c for i in chosen) for c in ("c1", "c2")}
    assert counts == {"c1": 10, "c2": 20}
    other = selector.select(pool, _ctx(1, tmp_path))
    assert {i.id for i in other} != {i.id for i in chosen}
    glob = registry().make("selectors", "random", {"ratio": 0.25, "per_capability": False})
    assert len(glob.select(pool, _ctx(0, tmp_path))) == 30


def test_random_rejects_a_ratio_out_of_range():
    from harness.errors import PluginError

    with pytest.raises(PluginError, match="ratio"):
        registry().make("selectors", "random", {"ratio": 1.5})


def test_confidence_keeps_the_most_confident_labels_per_capability(tmp_path):
    pool = _pool(80)
    chosen = registry().make("selectors", "confidence", {"ratio": 0.25}).select(
        pool, _ctx(0, tmp_path))
    for cap, n in (("c1", 10), ("c2", 20)):
        kept = [i.weak_logprob for i in chosen if i.capability == cap]
        rest = [i.weak_logprob for i in pool if i.capability == cap and i not in chosen]
        assert len(kept) == n and min(kept) >= max(rest)


def test_consistency_keeps_exactly_the_agreeing_items(tmp_path):
    pool = _pool()
    chosen = registry().make("selectors", "consistency").select(pool, _ctx(0, tmp_path))
    assert [i.id for i in chosen] == [i.id for i in pool if i.agree]
    assert registry().make("selectors", "consistency", {"strong": "base"}).needs() == \
        {"base_answer"}


@pytest.mark.parametrize("rule,expected", [
    ({"rule": "top_k", "top_k": 4}, {"c1": 4, "c2": 4}),
    ({"rule": "threshold", "threshold": -1.0}, None),
    ({"rule": "ratio", "ratio": 0.5, "per_capability": False}, 45),
])
def test_selection_rules(rule, expected, tmp_path):
    pool = _pool()
    chosen = registry().make("selectors", "confidence", rule).select(pool, _ctx(0, tmp_path))
    if rule["rule"] == "threshold":
        assert {i.id for i in chosen} == {i.id for i in pool if i.weak_logprob >= -1.0}
    elif isinstance(expected, dict):
        assert {c: sum(i.capability == c for i in chosen) for c in expected} == expected
    else:
        assert len(chosen) == expected


def test_a_rule_missing_its_value_is_rejected():
    from harness.errors import PluginError

    with pytest.raises(PluginError, match="top_k"):
        registry().make("selectors", "confidence", {"rule": "top_k"})
