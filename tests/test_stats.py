"""Intervals over seeds and the rule for when a PGR is reported."""

from __future__ import annotations

import pytest

from harness.stats import Estimate, pgr, pgr_over_seeds, t_quantile


@pytest.mark.parametrize("df,expected", [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776),
                                         (9, 2.262), (10, 2.228), (30, 2.042)])
def test_t_quantile_matches_published_tables(df, expected):
    assert t_quantile(df) == pytest.approx(expected, abs=5e-4)


def test_estimate_interval_is_t_based_and_absent_for_one_seed():
    assert Estimate.of([0.4]).low is None and str(Estimate.of([0.4])) == "0.400"
    e = Estimate.of([0.1, 0.2, 0.3])
    # sd 0.1, n 3: half-width 4.303 * 0.1 / sqrt(3)
    assert e.mean == pytest.approx(0.2)
    assert e.high - e.mean == pytest.approx(4.303 * 0.1 / 3 ** 0.5, abs=1e-3)
    assert str(e) == "0.200±0.248"


def test_pgr_needs_a_gap_of_at_least_min_gap():
    assert pgr(0.2, 0.5, 0.6) == (pytest.approx(0.75), None)
    value, note = pgr(0.50, 0.52, 0.51, min_gap=0.03)
    assert value is None and "min_gap" in note
    value, note = pgr(0.6, 0.5, 0.4)
    assert value is None and "no gap" in note


def test_pgr_over_seeds_is_withheld_when_a_seed_lacks_one_or_the_gap_may_be_zero():
    value, note = pgr_over_seeds([0.3, 0.3], [0.5, None], [None, "ceiling 0.1 - weak 0.1"])
    assert value is None and "1 of 2 seeds" in note
    value, note = pgr_over_seeds([0.01, 0.5, 0.02], [0.1, 0.2, 0.3], [None] * 3)
    assert value is None and "interval" in note
    value, note = pgr_over_seeds([0.30, 0.32, 0.31], [0.1, 0.2, 0.3], [None] * 3)
    assert note is None and value.mean == pytest.approx(0.2) and value.low < 0.2 < value.high


def test_auto_min_gap_is_two_binomial_standard_errors_of_the_difference():
    from harness.stats import noise_gap

    assert noise_gap(0.5, 0.5, 100) == pytest.approx(2 * (0.5 / 100) ** 0.5)
    # A 0.10 gap is noise on 100 items (2 SE = 0.13) and clear on 1000 (2 SE = 0.04).
    value, note = pgr(0.5, 0.55, 0.6, min_gap="auto", n=100)
    assert value is None and "2 binomial SEs on 100 test items" in note
    assert pgr(0.5, 0.55, 0.6, min_gap="auto", n=1000)[0] == pytest.approx(0.5)


def _seed(n: int, weak: float, gain: int, rng) -> dict[str, list[float]]:
    """Per-item scores: weak right on a share ``weak``; W2S the same items plus ``gain`` more;
    the ceiling right on every item."""
    w = [float(rng.random() < weak) for _ in range(n)]
    wrong = [i for i, v in enumerate(w) if not v]
    s = list(w)
    for i in rng.sample(wrong, gain):
        s[i] = 1.0
    return {"weak": w, "w2s": s, "ceiling": [1.0] * n}


def test_pooled_pgr_is_a_ratio_of_means_with_a_paired_interval():
    import random

    from harness.stats import pooled_pgr

    rng = random.Random(0)
    seeds = [_seed(400, 0.5, 40, rng) for _ in range(3)]
    est, note = pooled_pgr(seeds)
    weak = sum(sum(s["weak"]) for s in seeds) / 1200
    w2s = sum(sum(s["w2s"]) for s in seeds) / 1200
    assert note is None and est.mean == pytest.approx((w2s - weak) / (1 - weak))
    assert est.low < est.mean < est.high
    # Paired: the W2S model differs from the weak one on 40 items in 400, so the interval is
    # narrow; resampling each model's items on its own makes it 1.7x wider (0.144).
    assert est.high - est.low < 0.1
    assert pooled_pgr(seeds) == (est, note), "seeded"
    # One seed still has an interval; a gap within noise has none.
    assert pooled_pgr(seeds[:1])[0].low is not None
    noisy = [{"weak": [1.0, 0.0] * 5, "w2s": [1.0, 0.0] * 5, "ceiling": [1.0, 0.0, 1.0, 1.0, 0.0] * 2}]
    est, note = pooled_pgr(noisy)
    assert est.low is None and "reaches 0" in note
