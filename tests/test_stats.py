"""One interval procedure (``harness.stats``) and how often it covers the truth.

The coverage table docs/statistics.md quotes is ``bench/coverage.py``'s, stored in
``bench/results/coverage.json``; a share of it is rerun here, and the instrument is shown able
to fail: it flags an interval that counts item noise twice (over-covers) and one that drops the
floor and takes the normal quantile at 3 seeds (under-covers)."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import ROOT
from harness.stats import Estimate, interval, pgr, pooled_pgr, quantile

sys.path.insert(0, str(ROOT / "bench"))
import coverage  # noqa: E402  (bench/coverage.py)


@pytest.mark.parametrize("seeds,expected", [(2, 12.706), (3, 4.303), (4, 3.182), (5, 2.776),
                                            (10, 2.262), (31, 2.042), (1, 1.960)])
def test_the_quantile_is_students_t_on_seeds_minus_one(seeds, expected):
    from scipy import stats

    assert quantile(seeds) == pytest.approx(expected, abs=5e-4)
    # scipy.special's, bit for bit what scipy.stats gives (the reports' published figures)
    for confidence in (0.8, 0.9, 0.95, 0.99):
        tail = (1 + confidence) / 2
        t = stats.t.ppf(tail, seeds - 1) if seeds > 1 else stats.norm.ppf(tail)
        assert quantile(seeds, confidence) == float(t)


def test_estimate_interval_is_t_based_and_absent_for_one_seed():
    assert Estimate.of([0.4]).low is None and str(Estimate.of([0.4])) == "0.400"
    e = Estimate.of([0.1, 0.2, 0.3])
    assert e.mean == pytest.approx(0.2)
    assert e.high - e.mean == pytest.approx(4.303 * 0.1 / 3 ** 0.5, abs=1e-3)
    assert str(e) == "0.200±0.248"


def _seed(mean_shift: float, n: int = 200) -> list[float]:
    """Per-item 0/1 scores with accuracy 0.5 + ``mean_shift``, the same spread every seed."""
    right = round(n * (0.5 + mean_shift))
    return [1.0] * right + [0.0] * (n - right)


def test_one_procedure_no_switch_between_regimes():
    """Issue 31: before, when the seed means varied less than the items' noise suggests, the
    interval fell back to a normal interval on the item variance, and otherwise took Student's
    t on the seed means: at 3 seeds the half-width jumped by up to 2.2x across the switch.
    Now the quantile is always t on seeds - 1, and the variance is floored at the items'."""
    item_se = (0.25 / 200) ** 0.5 / 3 ** 0.5  # floor: the items' noise of the mean
    halves = []
    for spread in (0.0, 0.02, 0.03, 0.04, 0.06):
        e = interval([_seed(-spread), _seed(0.0), _seed(spread)])
        halves.append((e.high - e.low) / 2)
    assert halves[0] == pytest.approx(quantile(3) * item_se, rel=0.01), "the floor"
    # No jump: each step of the seeds' spread moves the half-width by less than 1.6x (the
    # items' variance moves a little with the accuracy, so the floor is not quite flat).
    assert max(b / a for a, b in zip(halves, halves[1:])) < 1.6
    assert halves[-1] > 1.5 * halves[0], "the seeds' spread counts once it exceeds the floor"
    # With one seed: the items' noise, at the normal quantile.
    one = interval([_seed(0.0)])
    assert (one.high - one.low) / 2 == pytest.approx(1.96 * (0.25 / 200) ** 0.5, rel=0.01)


def test_pgr_needs_a_gap_of_at_least_min_gap():
    assert pgr(0.2, 0.5, 0.6) == (pytest.approx(0.75), None)
    value, note = pgr(0.50, 0.52, 0.51, min_gap=0.03)
    assert value is None and "min_gap" in note
    value, note = pgr(0.6, 0.5, 0.4)
    assert value is None and "no gap" in note


def test_auto_min_gap_is_two_standard_errors_of_the_paired_difference():
    from harness.stats import noise_gap

    # Ceiling right on 60 of 100 items, weak on 50 of them (the ceiling's hard items are the
    # weak model's too): the difference is 1 on 10 items, 0 on 90.
    weak, ceiling = [1.0] * 50 + [0.0] * 50, [1.0] * 60 + [0.0] * 40
    d_sd = (10 * 0.9 ** 2 + 90 * 0.1 ** 2) ** 0.5 / 99 ** 0.5
    assert noise_gap(weak, ceiling) == pytest.approx(2 * d_sd / 10)
    assert noise_gap(weak, ceiling) < 0.07 < 2 * ((0.25 + 0.24) / 100) ** 0.5
    assert pgr(0.5, 0.55, 0.6, "auto", weak, ceiling)[0] == pytest.approx(0.5)
    scattered = [1.0] * 40 + [0.0] * 40 + [1.0] * 20
    value, note = pgr(0.5, 0.55, 0.6, "auto", weak, scattered)
    assert value is None and "2 SEs of the paired difference on 100 test items" in note


def _run(n: int, weak: float, gain: int, rng) -> dict[str, list[float]]:
    """Per-item scores: weak right on a share ``weak``; W2S the same items plus ``gain`` more;
    the ceiling right on every item."""
    w = [float(rng.random() < weak) for _ in range(n)]
    wrong = [i for i, v in enumerate(w) if not v]
    s = list(w)
    for i in rng.sample(wrong, gain):
        s[i] = 1.0
    return {"weak": w, "w2s": s, "ceiling": [1.0] * n}


def test_the_pgr_is_a_ratio_of_means_with_a_paired_fieller_interval():
    import random

    rng = random.Random(0)
    seeds = [_run(400, 0.5, 40, rng) for _ in range(3)]
    est, note = pooled_pgr(seeds)
    weak = sum(sum(s["weak"]) for s in seeds) / 1200
    w2s = sum(sum(s["w2s"]) for s in seeds) / 1200
    assert note is None and est.mean == pytest.approx((w2s - weak) / (1 - weak))
    assert est.low < est.mean < est.high
    # Paired: the W2S model differs from the weak one on 40 items in 400.
    assert est.high - est.low < 0.2
    # One seed still has an interval (the items'); a gap within noise has none.
    assert pooled_pgr(seeds[:1])[0].low is not None
    noisy = [{"weak": [1.0, 0.0] * 5, "w2s": [1.0, 0.0] * 5,
              "ceiling": [1.0, 0.0, 1.0, 1.0, 0.0] * 2}]
    est, note = pooled_pgr(noisy)
    assert est.low is None and "reaches 0" in note


def test_the_stored_coverage_table_is_what_the_docs_show():
    stored = json.loads(coverage.OUT.read_text())
    table = coverage.markdown(stored["rows"])
    assert table in (ROOT / "docs" / "statistics.md").read_text(), "docs/statistics.md's " \
        "coverage table is stale: run `python bench/coverage.py` and paste its table"
    assert len(coverage.POINTS) >= 5 and max(coverage.SDS) >= 0.15
    assert {1, 3, 5} <= {r["seeds"] for r in stored["rows"]}


RERUN = [("quickstart (0.07 / 0.17)", 3, 0.05), ("mid (0.40 / 0.80)", 3, 0.15),
         ("narrow gap (0.55 / 0.60)", 5, 0.05), ("mid (0.40 / 0.80)", 1, 0.05)]


@pytest.mark.parametrize("config", RERUN, ids=lambda c: f"{c[0]}-{c[1]}seeds-sd{c[2]}")
def test_the_coverage_rerun_agrees_with_the_stored_table(config):
    """400 runs here against the stored 2000: within 3 Monte Carlo standard errors of the
    difference for every interval."""
    stored = next(r for r in json.loads(coverage.OUT.read_text())["rows"]
                  if (r["point"], r["seeds"], r["seed_sd"]) == config)
    name, k, sd = config
    fresh = coverage.accuracy_row(coverage.POINTS[name], k, sd, 400, seed=99)
    for key in ("pgr", "difference", "equivalence"):
        p = stored[key]
        se = (max(p * (1 - p), 0.01) * (1 / 400 + 1 / 2000)) ** 0.5
        assert abs(fresh[key] - p) < 3 * se, (key, fresh[key], p)


def test_the_coverage_instrument_flags_intervals_that_are_wrong():
    """The check can fail both ways: counting the item noise twice (resampling seeds, then
    items within them) over-covers; a normal quantile without the floor at 3 seeds
    under-covers where the seeds vary."""
    import numpy as np

    from harness.stats import _moments

    def too_wide(seeds, confidence=0.95):
        e = interval(seeds, confidence)
        return Estimate(mean=e.mean, low=e.mean - 2 * (e.mean - e.low),
                        high=e.mean + 2 * (e.high - e.mean), n=e.n)

    def too_narrow(seeds, confidence=0.95):
        mean, seed_cov, _ = _moments([[s] for s in seeds])
        half = 1.96 * seed_cov[0, 0] ** 0.5
        return Estimate(mean=float(mean[0]), low=float(mean[0] - half),
                        high=float(mean[0] + half), n=len(seeds))

    point = coverage.POINTS["mid (0.40 / 0.80)"]
    rates = {}
    for name, broken in (("wide", too_wide), ("narrow", too_narrow)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("harness.stats.interval", broken)
            rates[name] = coverage.accuracy_row(point, 3, 0.15, 300, seed=5)["difference"]
    assert rates["wide"] > 0.99 and rates["narrow"] < 0.90, rates
    assert np.isfinite(rates["narrow"])


@pytest.mark.parametrize("seeds", [1, 3, 5])
def test_an_effect_of_the_detectable_size_is_detected_80_percent_of_the_time(seeds):
    """Issue 32's power rule, by simulation: seed-level estimates N(effect, 1) (one value per
    item, so the items add no noise of their own, and with one seed the items' noise is the
    whole noise); the effect ``detectable`` names is found (interval above 0) about 80% of the
    time. The normal-theory size (1.96 + 0.84 standard errors) is found far less often with
    3 or 5 seeds: the check can fail."""
    import numpy as np

    from harness.stats import detectable_ses, detectable

    rng = np.random.default_rng(seeds)
    if seeds == 1:  # 400 items a seed, sd 1 each: the mean's standard error is 0.05
        draw = lambda effect: [list(rng.normal(effect, 1.0, 400))]  # noqa: E731
        se = 0.05
    else:
        draw = lambda effect: [[v] * 2 for v in rng.normal(effect, 1.0, seeds)]  # noqa: E731
        se = 1 / seeds ** 0.5
    effect = detectable_ses(seeds) * se
    runs = 2000
    found = sum(interval(draw(effect)).low > 0 for _ in range(runs)) / runs
    assert abs(found - 0.80) < 0.03, found
    if seeds > 1:  # with one seed the normal-theory size is the rule itself
        naive = sum(interval(draw(2.80 * se)).low > 0 for _ in range(runs)) / runs
        assert naive < 0.70, naive
    # From a run's own interval: the same size, scaled by its standard error.
    e = interval(draw(0.0))
    half = (e.high - e.low) / 2
    assert detectable(e) == pytest.approx(detectable_ses(seeds) * half / quantile(seeds))
