"""Measure the pre-registered adaptive PGR level (bench/results/issue48/pgr-adaptive-level.md)
on six coverage cells, with the rule patched over ``harness.stats.pooled_pgr``.

    python bench/pgr_adaptive.py   # writes bench/results/issue48/pgr-adaptive-level.json
"""

from __future__ import annotations

import json
from pathlib import Path

import coverage as cov_bench
import harness.stats as stats

CELLS = [("high (0.85 / 0.92)", 3, 0.15, False), ("below weak (0.35 / 0.60)", 3, 0.15, False),
         ("below weak (0.35 / 0.60)", 3, 0.15, True), ("quickstart (0.07 / 0.17)", 3, 0.15, False),
         ("narrow gap (0.55 / 0.60)", 3, 0.05, False), ("high (0.85 / 0.92)", 3, 0.05, False)]
OUT = Path(__file__).parent / "results" / "issue48" / "pgr-adaptive-level.json"


def resolve_chance(t: float, seeds: int) -> float:
    """pi-hat: a 95% two-sided test's power at noncentrality ``t``."""
    from scipy import special

    q = stats.quantile(seeds)
    if seeds < 2:
        return float(special.ndtr(t - q) + special.ndtr(-t - q))
    lower = special.nctdtr(seeds - 1, t, -q)  # negligible, and NaN far out in the tail
    return float(1 - special.nctdtr(seeds - 1, t, q) + (0.0 if lower != lower else lower))


def adaptive(seeds, confidence=0.95):
    rows = [stats.gain_and_gap(s) for s in seeds]
    (gain, gap), seed_cov, item_cov = stats._moments(rows)
    k = len(seeds)
    cov = stats._cov(k, seed_cov, item_cov)
    q = stats.quantile(k, confidence)
    if gap <= 0 or stats._fieller(gain, gap, cov, q) is None:
        return stats.Estimate(mean=0.0, n=k), "gap not resolved"
    pi = resolve_chance(gap / cov[1, 1] ** 0.5, k)
    bounds = stats._fieller(gain, gap, cov, stats.quantile(k, 1 - (1 - confidence) * pi))
    if bounds is None:
        return stats.Estimate(mean=0.0, n=k), "not at the level its selection needs"
    return stats.Estimate(mean=float(gain / gap), low=bounds[0], high=bounds[1], n=k), None


def main() -> None:
    stats.pooled_pgr = adaptive  # accuracy_row imports it from harness.stats at call time
    rows = []
    for i, (name, k, sd, shared) in enumerate(CELLS):
        n = 70 if shared else cov_bench.ITEMS
        row = {"point": name, "seeds": k, "seed_sd": sd, "items": n, "shared": shared,
               **cov_bench.accuracy_row(cov_bench.POINTS[name], k, sd, 2000, seed=100 + i,
                                        items=n, shared=shared, extra=20)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    OUT.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
