"""Training-set diversity and answer agreement measures."""

from __future__ import annotations

import random

import pytest

from harness.analysis import agreement, compression_ratio, distinct_n


def test_distinct_n_counts_unique_ngrams():
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["a b", "a b"], 2) == 0.5
    assert distinct_n(["a"], 2) == 0.0
    assert distinct_n(["x y z"], 1) == 1.0


def test_both_diversity_measures_rank_a_repetitive_set_below_a_varied_one():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(500)]
    varied = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(200)]
    repetitive = [" ".join(["w1", "w2", "w3"] * 4) for _ in range(200)]
    assert distinct_n(varied) > distinct_n(repetitive)
    assert compression_ratio(repetitive) > compression_ratio(varied)
    assert compression_ratio([]) == 0.0


def test_agreement_ignores_unreadable_answers():
    assert agreement(["1", "2", None], ["1", "3", None]) == pytest.approx(1 / 3)
    assert agreement([], []) == 0.0
