"""How often ``harness.stats``'s intervals cover the truth, on simulated runs shaped like real
ones. ``tests/test_stats.py`` reruns a share of it against the stored table;
``docs/statistics.md`` quotes the table.

A simulated run has ``seeds`` seeds; each draws its own ``ITEMS`` test items and its own
training noise. Per seed the weak model's accuracy moves by W ~ N(0, sd) and the strong
model's (the ceiling's) by S ~ N(0, sd); the W2S student inherits both, (W + S) / 2 plus its
own N(0, sd / sqrt 2), as a student shares its supervisor's labels and its own base model.
Accuracies are clipped to [0.01, 0.99]. Items share a difficulty across the three models (a
Gaussian copula with correlation ``SHARED``), so per-item errors are correlated as real
models' are. The truth is each model's expected accuracy over seeds (clipping included).

Intervals checked, each against its nominal level:
- ``pgr``: the Fieller interval of ``pooled_pgr`` (95%); coverage over every run counts an
  unbounded one as covering, and over bounded ones alone (drawing more runs where few are
  bounded, and saying how many), with the share unbounded;
- ``difference``: ``paired_difference`` of W2S - weak at 95%;
- ``equivalence``: the same at 90% (the interval of finding 2's two one-sided tests);
- ``slope``: finding 3's ``within_seed_slope`` (95%), from a run of ``METHODS`` methods per seed
  whose training-label accuracies differ, W2S rising ``SLOPE`` per unit of it.

    python bench/coverage.py [--runs 2000]   # writes bench/results/coverage.json
    python bench/coverage.py --only "high (0.85 / 0.92)" 5 0.15 --bounded 1500 --seed 1234
        # one cell, measured more closely (writes bench/results/coverage-cell.json)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ITEMS = 150
SHARED = 0.5
BOUNDED = 400
EXTRA = 5
POINTS = {
    "quickstart (0.07 / 0.17)": (0.07, 0.10, 0.17),
    "mid (0.40 / 0.80)": (0.40, 0.56, 0.80),
    "narrow gap (0.55 / 0.60)": (0.55, 0.575, 0.60),
    "high (0.85 / 0.92)": (0.85, 0.88, 0.92),
    "no gain (0.30 / 0.60)": (0.30, 0.30, 0.60),
}
"""Operating point -> (weak, W2S, ceiling) accuracy: the published quickstart's low
accuracies, a wide gap, a gap of 0.05, accuracies near 0.9, and a PGR of 0."""
SDS = (0.0, 0.05, 0.15)
SEEDS = (1, 3, 5)
METHODS = 6
SLOPE = 0.5
OUT = Path(__file__).parent / "results" / "coverage.json"


def _accuracies(rng, point: tuple[float, float, float], seeds: int, sd: float) -> np.ndarray:
    """(seeds, 3) accuracies of weak, W2S and ceiling, each seed's training noise applied."""
    weak_shift, strong_shift = rng.normal(0, sd, (2, seeds))
    own = rng.normal(0, sd / 2 ** 0.5, seeds)
    shifts = np.stack([weak_shift, (weak_shift + strong_shift) / 2 + own, strong_shift], 1)
    return np.clip(np.array(point) + shifts, 0.01, 0.99)


def _items(rng, accuracy: np.ndarray) -> np.ndarray:
    """(models, ITEMS) 0/1 scores for one seed: model m right on item i when its copula
    draw falls under its accuracy, the draws sharing each item's difficulty."""
    from scipy.stats import norm

    latent = SHARED ** 0.5 * rng.standard_normal(ITEMS) \
        + (1 - SHARED) ** 0.5 * rng.standard_normal((len(accuracy), ITEMS))
    return (norm.cdf(latent) < accuracy[:, None]).astype(float)


def truth(point: tuple[float, float, float], sd: float) -> np.ndarray:
    """Each model's expected accuracy over seeds (weak, W2S, ceiling), clipping included."""
    return _accuracies(np.random.default_rng(12345), point, 400_000, sd).mean(axis=0)


def _covered(low, high, value) -> bool:
    return low is not None and high is not None and low <= value <= high


def accuracy_row(point: tuple[float, float, float], seeds: int, sd: float, runs: int,
                 seed: int = 0, want: int = BOUNDED, extra: int = EXTRA) -> dict[str, float]:
    """Coverage of the PGR, difference and equivalence intervals at one configuration, over
    ``runs`` runs; the PGR's coverage over bounded runs alone keeps drawing runs (up to
    ``extra`` x ``runs``) until ``want`` of them are bounded, since where the gap is rarely
    resolved a few hundred runs leave too few bounded ones to measure it."""
    from harness.stats import paired_difference, pooled_pgr

    rng = np.random.default_rng(seed)
    weak, w2s, ceiling = truth(point, sd)
    true_pgr, true_diff = (w2s - weak) / (ceiling - weak), w2s - weak
    hits = {"pgr": 0, "difference": 0, "equivalence": 0}
    bounded = inside = drawn = 0
    while drawn < runs or (bounded < want and drawn < extra * runs):
        run = [_items(rng, a) for a in _accuracies(rng, point, seeds, sd)]
        est, note = pooled_pgr([dict(zip(("weak", "w2s", "ceiling"), s)) for s in run])
        covers = est is not None and note is None and _covered(est.low, est.high, true_pgr)
        bounded += est is not None and note is None
        inside += covers
        drawn += 1
        if drawn > runs:
            continue
        hits["pgr"] += covers or est is None or note is not None
        pairs = [(s[1], s[0]) for s in run]
        d95, d90 = paired_difference(pairs), paired_difference(pairs, confidence=0.90)
        hits["difference"] += _covered(d95.low, d95.high, true_diff)
        hits["equivalence"] += _covered(d90.low, d90.high, true_diff)
    return {**{k: v / runs for k, v in hits.items()},
            "pgr_bounded": inside / bounded if bounded else float("nan"),
            "bounded_runs": bounded, "unbounded": 1 - bounded / drawn}


def slope_row(seeds: int, sd: float, runs: int, seed: int = 0) -> dict[str, float]:
    """Coverage of finding 3's within-seed slope: ``METHODS`` methods per seed spread their
    training-label accuracy (0.45 to 0.75, plus N(0, 0.02) per seed), W2S rises ``SLOPE`` per
    unit of it, each seed shifts every method by N(0, sd), each method strays by N(0, 0.02),
    and the W2S accuracy is measured on ``ITEMS`` items."""
    from harness.stats import within_seed_slope

    if seeds < 2:  # one seed's slope has no interval: finding 3 is not measured there
        return {"slope": float("nan")}
    rng = np.random.default_rng(seed)
    spread = np.linspace(0.45, 0.75, METHODS)
    hits = 0
    for _ in range(runs):
        rows = []
        for s in range(seeds):
            x = spread + rng.normal(0, 0.02, METHODS)
            p = np.clip(0.3 + SLOPE * (x - 0.6) + rng.normal(0, sd) + rng.normal(0, 0.02,
                                                                                 METHODS),
                        0.01, 0.99)
            y = rng.binomial(ITEMS, p) / ITEMS
            rows += [(s, float(a), float(b)) for a, b in zip(x, y)]
        est = within_seed_slope(rows)
        hits += est is not None and _covered(est.low, est.high, SLOPE)
    return {"slope": hits / runs}


def table(runs: int, configs: list[tuple[str, int, float]] | None = None) -> list[dict]:
    """One row per (operating point, seeds, seed sd), or per ``configs`` given."""
    configs = configs or [(p, k, sd) for p in POINTS for k in SEEDS for sd in SDS]
    rows = []
    for i, (name, k, sd) in enumerate(configs):
        row = {"point": name, "seeds": k, "seed_sd": sd,
               **accuracy_row(POINTS[name], k, sd, runs, seed=i)}
        if name == next(iter(POINTS)):
            row.update(slope_row(k, sd, runs, seed=i))
        rows.append(row)
    return rows


NOMINAL = {"pgr": 0.95, "pgr_bounded": 0.95, "difference": 0.95, "equivalence": 0.90,
           "slope": 0.95}
SHORTFALL = 0.02
"""A cell more than this below its nominal level is marked (0.93 for a 95% interval)."""


def markdown(rows: list[dict]) -> str:
    """The table as docs/statistics.md shows it: a cell below nominal - ``SHORTFALL`` is in bold."""
    cols = ["pgr", "pgr_bounded", "bounded_runs", "unbounded", "difference", "equivalence",
            "slope"]
    head = ("| operating point (weak / ceiling) | seeds | seed sd | PGR (all) | PGR (bounded) "
            "| bounded runs | unbounded | W2S - weak | 90% (equivalence) | slope (finding 3) |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if v is None or v != v:
                cells.append("")
                continue
            if c == "bounded_runs":
                cells.append(str(v))
                continue
            low = c in NOMINAL and v < NOMINAL[c] - SHORTFALL
            cells.append(f"**{v:.3f}**" if low else f"{v:.3f}")
        lines.append(f"| {r['point']} | {r['seeds']} | {r['seed_sd']:.2f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--only", nargs=3, metavar=("POINT", "SEEDS", "SD"),
                        help="one configuration, with --bounded and --seed")
    parser.add_argument("--bounded", type=int, default=BOUNDED)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.only:
        name, k, sd = args.only[0], int(args.only[1]), float(args.only[2])
        row = {"point": name, "seeds": k, "seed_sd": sd, "seed": args.seed,
               **accuracy_row(POINTS[name], k, sd, args.runs, args.seed, args.bounded, 20)}
        (OUT.parent / "coverage-cell.json").write_text(json.dumps(row, indent=1) + "\n")
        print(json.dumps(row))
        return
    rows = table(args.runs)
    OUT.write_text(json.dumps({"runs": args.runs, "items": ITEMS, "rows": rows}, indent=1)
                   + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
