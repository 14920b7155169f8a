"""Contract tests over every registered selector, plus the random control's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import SelectContext, WeakItem
from harness.plugins import registry


def _pool(n: int = 60) -> list[WeakItem]:
    return [WeakItem(id=f"{cap}-{i}", capability=cap, prompt=f"{cap} q{i}:", label=f" a{i}")
            for cap in ("c1", "c2") for i in range(n // 2 if cap == "c1" else n)]


def _ctx(seed: int, tmp_path: Path) -> SelectContext:
    return SelectContext(seed=seed, strong_model="tiny-strong", weak_model="tiny-weak",
                         work_dir=tmp_path)


# Selectors that need no model run here; model-based ones get their own tests.
MODEL_FREE = ["all", "random"]


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
