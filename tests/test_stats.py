"""One interval procedure (``harness.stats``), how often it covers the truth, and what a run
could detect (``harness.power``).

The coverage table docs/statistics.md quotes is ``bench/coverage.py``'s, stored in
``bench/results/coverage.json``; a share of it is rerun here, and the instrument is shown able
to fail: it flags an interval twice too wide and the floored one issue 48 replaced
(over-cover), and one at the normal quantile at 3 seeds (under-covers)."""

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


def test_the_interval_is_t_on_the_seed_means_without_a_floor():
    """Issue 48: the variance is the seed means' own, whatever share the items have in it; the
    floor at the items' share (issue 31) only widened it. With one seed: the items' noise at
    the normal quantile, labelled "items only"."""
    from statistics import stdev

    seeds = [_seed(-0.01), _seed(0.0), _seed(0.01)]  # means agree closer than items' noise
    e = interval(seeds)
    means = [sum(s) / len(s) for s in seeds]
    assert (e.high - e.low) / 2 == pytest.approx(quantile(3) * stdev(means) / 3 ** 0.5)
    item_se = (0.25 / 200) ** 0.5 / 3 ** 0.5
    assert (e.high - e.low) / 2 < quantile(3) * item_se, "a floor is back"
    one = interval([_seed(0.0)])
    assert (one.high - one.low) / 2 == pytest.approx(1.96 * (0.25 / 200) ** 0.5, rel=0.01)
    assert one.bracket().endswith("(items only)") and "items only" in str(one)
    assert "items only" not in e.bracket()


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
    assert len(coverage.POINTS) >= 7 and max(coverage.SDS) >= 0.15
    assert {1, 3, 5} <= {r["seeds"] for r in stored["rows"]}


def _rows3() -> list[dict]:
    rows = [r for r in json.loads(coverage.OUT.read_text())["rows"] if r["seeds"] >= 3]
    assert any(p[1] < p[0] for p in coverage.POINTS.values()), "a point with W2S below weak"
    assert {120, 300} <= {r["items"] for r in rows} and any(r["shared"] for r in rows)
    return rows


def test_every_row_with_three_seeds_covers_the_differences_within_two_points():
    """Issue 48's acceptance: W2S - weak and W2S - strong base cover 0.93-0.97 at every row
    with 3 or more seeds, W2S below weak and seeds sharing a model included (the floored
    interval covered 0.96-1.00 there: ``test_the_coverage_instrument_flags...`` shows this
    check failing it)."""
    off = [(r["point"], r["seeds"], r["seed_sd"], r["items"], key, r[key]) for r in _rows3()
           for key in ("difference", "base") if coverage.marked(key, r[key])]
    assert not off, off


@pytest.mark.xfail(strict=True, reason="issue 48, not met: three 3-seed rows at seed sd 0.15, "
                   "where the gap is resolved in a quarter of runs or fewer, cover 0.922-0.926 "
                   "over bounded runs (docs/statistics.md); strict, so a fix must remove this")
def test_every_row_with_three_seeds_covers_the_bounded_pgr_within_two_points():
    off = [(r["point"], r["seeds"], r["seed_sd"], r["items"], r["pgr_bounded"])
           for r in _rows3() if coverage.marked("pgr_bounded", r["pgr_bounded"])]
    assert not off, off


RERUN = [("quickstart (0.07 / 0.17)", 3, 0.05, 150, False),
         ("below weak (0.35 / 0.60)", 3, 0.15, 150, False),
         ("controls (0.35 / 0.63)", 3, 0.05, 70, True),
         ("mid (0.40 / 0.80)", 1, 0.05, 150, False)]


@pytest.mark.parametrize("config", RERUN, ids=lambda c: f"{c[0]}-{c[1]}seeds-sd{c[2]}-{c[3]}")
def test_the_coverage_rerun_agrees_with_the_stored_table(config):
    """400 runs here against the stored 2000: within 3 Monte Carlo standard errors of the
    difference for every interval."""
    stored = next(r for r in json.loads(coverage.OUT.read_text())["rows"]
                  if (r["point"], r["seeds"], r["seed_sd"], r["items"], r["shared"]) == config)
    name, k, sd, n, shared = config
    fresh = coverage.accuracy_row(coverage.POINTS[name], k, sd, 400, seed=99, items=n,
                                  shared=shared)
    for key in ("pgr", "difference", "base", "equivalence"):
        p = stored[key]
        se = (max(p * (1 - p), 0.01) * (1 / 400 + 1 / 2000)) ** 0.5
        assert abs(fresh[key] - p) < 3 * se, (key, fresh[key], p)


def test_the_coverage_instrument_flags_intervals_that_are_wrong():
    """The check can fail both ways: an interval twice too wide over-covers, and so does the
    floored one issue 48 replaced (its variance never below the items' share, at t on seeds
    - 1) where the seeds add little noise; the normal quantile at 3 seeds under-covers."""
    import numpy as np

    from harness.stats import _moments

    def too_wide(seeds, confidence=0.95):
        e = interval(seeds, confidence)
        return Estimate(mean=e.mean, low=e.mean - 2 * (e.mean - e.low),
                        high=e.mean + 2 * (e.high - e.mean), n=e.n)

    def floored(seeds, confidence=0.95):
        mean, seed_cov, item_cov = _moments([[s] for s in seeds])
        half = quantile(len(seeds), confidence) * max(seed_cov[0, 0], item_cov[0, 0]) ** 0.5
        return Estimate(mean=float(mean[0]), low=float(mean[0] - half),
                        high=float(mean[0] + half), n=len(seeds))

    def too_narrow(seeds, confidence=0.95):
        mean, seed_cov, _ = _moments([[s] for s in seeds])
        half = 1.96 * seed_cov[0, 0] ** 0.5
        return Estimate(mean=float(mean[0]), low=float(mean[0] - half),
                        high=float(mean[0] + half), n=len(seeds))

    point = coverage.POINTS["mid (0.40 / 0.80)"]
    rates = {}
    for name, broken, sd in (("wide", too_wide, 0.15), ("floored", floored, 0.0),
                             ("narrow", too_narrow, 0.15), ("today", interval, 0.0)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("harness.stats.interval", broken)
            rates[name] = coverage.accuracy_row(point, 3, sd, 300, seed=5)["difference"]
    assert rates["wide"] > 0.97 and rates["floored"] > 0.99 and rates["narrow"] < 0.90, rates
    assert 0.91 < rates["today"] < 0.99, rates  # 300 runs: a Monte Carlo error of 0.013
    assert np.isfinite(rates["narrow"])


def _cells(rng, seeds: int, items: int, effect: float, seed_sd: float, cells: int = 1,
           gap: float | None = None) -> list[list[list[list[float]]]]:
    """``cells`` simulated cells (seed -> series -> items): per-item 0/1 scores with the weak
    model right on 40% of items, W2S on 40% + ``effect`` (so W2S - weak has item noise), each
    seed shifting W2S by N(0, ``seed_sd``). With ``gap``, the series are the PGR's gain and
    gap, the ceiling right on 40% + ``gap``, shifting by its own N(0, ``seed_sd``)."""
    import numpy as np

    out = []
    for _ in range(cells):
        cell = []
        for _ in range(seeds):
            u = rng.random(items)
            weak = (u < 0.4).astype(float)
            w2s = (rng.random(items) < np.clip(0.4 + effect + rng.normal(0, seed_sd), 0, 1))
            series = [list(w2s - weak)]
            if gap is not None:
                ceiling = rng.random(items) < np.clip(0.4 + gap + rng.normal(0, seed_sd), 0, 1)
                series.append(list(ceiling - weak))
            cell.append(series)
        out.append(cell)
    return out


PRINTED, TRIED, CELLS = 120, 50, 12
"""Printed figures simulated per case, runs each is tried on (6,000 runs a case), and the
cells a run pools its seeds' noise over (as `controls` and `science` have methods)."""


def _found(cells, pgr: bool) -> float:
    """The share of cells whose interval is above 0: the difference's, or the PGR's."""
    from harness.stats import paired_difference

    if pgr:
        ests = [pooled_pgr([{"weak": [0.0] * len(g), "w2s": g, "ceiling": d}
                            for g, d in cell])[0] for cell in cells]
    else:
        ests = [paired_difference([(g[0], [0.0] * len(g[0])) for g in cell]) for cell in cells]
    return sum(e is not None and e.low is not None and e.low > 0 for e in ests) / len(cells)


@pytest.mark.parametrize("seeds,seed_sd", [(3, 0.0), (5, 0.0), (3, 0.04), (5, 0.04), (1, 0.0)])
def test_the_printed_detectable_difference_is_found_80_percent_of_the_time(seeds, seed_sd):
    """Issue 48: "could detect >= X" is the design's, with item noise and seed noise (at sd 0
    the old floor would bind): the X a run prints (its seeds' noise pooled over 12 cells) is
    found 80% ± 3% of the time by runs of the same size, averaged over the runs that print it.
    The outcome-based figure it replaced (from one cell's own interval) swings at least 1.5
    times as far from run to run."""
    import numpy as np

    from harness.power import designs, detectable
    from harness.stats import detectable_ses

    rng = np.random.default_rng(seeds * 10 + int(seed_sd * 100))
    printed, old, rates, then = [], [], [], []
    for _ in range(PRINTED):  # runs' printed figures, each tried on TRIED runs of its size
        printed.append(detectable(designs(_cells(rng, seeds, 150, 0.0, seed_sd, CELLS))[0]))
        rates.append(_found(_cells(rng, seeds, 150, printed[-1], seed_sd, cells=TRIED), False))
        if seeds > 1:
            e = interval([g[0] for g in _cells(rng, seeds, 150, 0.0, seed_sd)[0]])
            old.append(detectable_ses(seeds) * (e.high - e.low) / 2 / quantile(seeds))
            then.append(_found(_cells(rng, seeds, 150, old[-1], seed_sd, cells=TRIED), False))
    assert abs(np.mean(rates) - 0.80) < 0.03, (np.mean(rates), np.percentile(printed, [10, 90]))
    if seeds > 1:  # the figure from one cell's own interval swings twice as far
        assert np.ptp(np.percentile(old, [10, 90])) > 1.5 * np.ptp(np.percentile(printed,
                                                                                  [10, 90]))


@pytest.mark.parametrize("seeds,seed_sd", [(3, 0.0), (5, 0.03), (1, 0.0)])
def test_the_printed_detectable_pgr_is_found_80_percent_of_the_time(seeds, seed_sd):
    """The PGR's figure counts the gap's uncertainty (its verdict needs the gap resolved and
    the gain above 0): at a gap its run resolves about 90% of the time, the printed PGR is
    found 80% ± 3% of the time; the figure that treated the gap as exact (the gain's detectable size over the gap)
    is found less often. At a gap too small to resolve 80% of the time, no figure."""
    import numpy as np

    from harness.power import designs, detectable, detectable_pgr

    from harness.stats import detectable_ses

    rng = np.random.default_rng(seeds + 7)
    # A gap its run resolves about 90% of the time: one detectable size and one standard
    # error (the gap's per-item variance is about 0.48, its seeds' about seed_sd^2). Where a
    # run's own estimate of that is under 80%, it prints no figure.
    gap = (detectable_ses(seeds) + 1) * ((0.48 / 150 + seed_sd ** 2) / seeds) ** 0.5
    found, exact_gap, none = [], [], 0
    for _ in range(PRINTED):
        design = designs(_cells(rng, seeds, 150, 0.0, seed_sd, CELLS, gap))[0]
        printed = detectable_pgr(design, gap)
        if printed is None:
            none += 1
            continue
        found.append(_found(_cells(rng, seeds, 150, printed * gap, seed_sd, TRIED, gap), True))
        naive = detectable(design) / gap
        exact_gap.append(_found(_cells(rng, seeds, 150, naive * gap, seed_sd, TRIED, gap), True))
    assert none < PRINTED / 2 and abs(np.mean(found) - 0.80) < 0.03, (none, np.mean(found))
    assert np.mean(exact_gap) < 0.77, np.mean(exact_gap)
    tiny = designs(_cells(rng, seeds, 150, 0.0, seed_sd, cells=8, gap=0.02))[0]
    assert detectable_pgr(tiny, 0.02) is None
