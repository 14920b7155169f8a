"""The reward-model selector, trained for real on the tiny strong model."""

from __future__ import annotations

import json

import pytest

from harness import SelectContext, WeakItem
from harness.plugins import registry
from harness_plugins.selectors.reward import RewardParams, preference_data

pytestmark = pytest.mark.slow


def _scan_pool(n: int, seed: int = 0) -> list[WeakItem]:
    """Agreeing items carry the right actions; on disagreeing ones the strong answer spells the
    actions in a wrong format (``jump walk`` for ``I_JUMP I_WALK``): a pattern a reward model
    can learn from a hundred pairs, and that held-out pairs share."""
    rows = registry().make("capabilities", "synth_scan",
                           {"labeled": 10, "unlabeled": n, "test": 10}).load(seed).unlabeled
    pool = []
    for k, row in enumerate(rows):
        agree = k % 2 == 0
        wrong = " " + " ".join(a.removeprefix("I_").lower() for a in row.target.split())
        pool.append(WeakItem(id=row.id, capability="synth_scan", prompt=row.prompt,
                             label=row.target, strong_answer=row.target if agree else wrong,
                             agree=agree))
    return pool


@pytest.mark.parametrize("loss", ["pairwise", "pointwise"])
def test_reward_model_ranks_held_out_positives_above_negatives(loss, tiny_models, tmp_path):
    selector = registry().make("selectors", "reward_model", {
        "loss": loss, "lr": 1e-3, "epochs": 2, "batch_size": 16, "micro_batch_size": 16,
        "held_out": 0.2, "ratio": 0.5})
    pool = _scan_pool(300)
    ctx = SelectContext(seed=0, strong_model=tiny_models["tiny-strong"],
                        weak_path=tiny_models["tiny-weak"], work_dir=tmp_path)
    chosen = selector.select(pool, ctx)
    report = json.loads((tmp_path / "reward_model.json").read_text())
    # 30 held-out pairs whose items were never trained on; chance is 0.5, and 23 of 30 or more
    # happens by chance with probability below 0.3%.
    assert report["held_out_pairs"] == 30
    assert report["held_out_accuracy"]["synth_scan"] >= 23 / 30, report
    assert len(chosen) == 150
    assert not list(tmp_path.glob("reward-*")), "the reward model's weights must not be kept"
    rewards = [json.loads(line) for line in (tmp_path / "rewards.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rewards} == {i.id for i in pool}


def test_preference_pairs_respect_the_held_out_split_and_the_chosen_sets():
    pool = _scan_pool(100)
    params = RewardParams(held_out=0.2)
    train, by_cap = preference_data(pool, params, seed=0)
    held = [pair for pairs in by_cap.values() for pair in pairs]
    by_text = {i.prompt + i.label: i for i in pool}
    assert all(by_text[c].agree for c, _ in train + held)
    # negatives are the strong model's answers on disagreeing items (by default)
    strong_texts = {i.prompt + i.strong_answer: i for i in pool if not i.agree}
    assert all(r in strong_texts for _, r in train + held)
    train_texts = {t for pair in train for t in pair}
    assert not train_texts & {t for pair in held for t in pair}
    flipped, _ = preference_data(pool, RewardParams(negatives="weak_disagree", held_out=0.2), 0)
    weak_neg = {i.prompt + i.label for i in pool if not i.agree}
    assert all(r in weak_neg for _, r in flipped)
    assert preference_data(pool, params, seed=0) == (train, by_cap)
    capped, _ = preference_data(pool, RewardParams(max_pairs=7), 0)
    assert len(capped) == 7


def test_without_pairs_the_selector_falls_back_to_agreement(tmp_path):
    pool = [WeakItem(id=str(k), capability="c", prompt="q", label=" a", strong_answer=" a",
                     agree=True) for k in range(6)]
    selector = registry().make("selectors", "reward_model", {"ratio": 0.5})
    ctx = SelectContext(seed=0, strong_model="unused", work_dir=tmp_path)
    assert len(selector.select(pool, ctx)) == 3
    assert json.loads((tmp_path / "reward_model.json").read_text())["pairs"] == 0
