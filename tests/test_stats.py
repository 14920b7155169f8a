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
