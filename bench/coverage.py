"""How often ``harness.stats``'s intervals cover the truth, on simulated runs shaped like real
ones. ``tests/test_stats.py`` reruns a share of it against the stored table;
``docs/statistics.md`` quotes the table.

A simulated run has ``seeds`` seeds; each draws its own test items and its own training noise.
Per seed the weak model's accuracy moves by W ~ N(0, sd) and the strong model's (the
ceiling's) by S ~ N(0, sd); the W2S student inherits both, (W + S) / 2 plus its own
N(0, sd / sqrt 2), as a student shares its supervisor's labels and its own base model; the
untuned strong model (the strong base) moves by S alone. Accuracies are clipped to
[0.01, 0.99]. Items share a difficulty across the four models (a Gaussian copula with
correlation ``SHARED``), so per-item errors are correlated as real models' are. The truth is
each model's expected accuracy over seeds (clipping included).

**Shared** rows are shaped like ``controls``: one pretrained strong model for every seed
(S = 0: the truth is that model's; the ceiling and the student move by fine-tuning's
N(0, sd / sqrt 2) alone), and each seed's test items drawn without replacement from one pool
of ``POOL`` items whose difficulties, and the untuned model's answers, are fixed for the run.
The truth is then the expected accuracy over that pool.

Intervals checked, each against its nominal level:
- ``pgr``: the Fieller interval of ``pooled_pgr`` (95%); coverage over every run counts an
  unbounded one as covering, and over bounded ones alone (drawing more runs where few are
  bounded, and saying how many), with the share unbounded;
- ``difference``: ``paired_difference`` of W2S - weak at 95%; ``base``: of W2S - strong base;
- ``equivalence``: W2S - weak at 90% (the interval of finding 2's two one-sided tests);
- ``slope``: finding 3's ``within_seed_slope`` (95%), from a run of ``METHODS`` methods per seed
  whose training-label accuracies differ, W2S rising ``SLOPE`` per unit of it.

    python bench/coverage.py [--runs 2000]   # writes bench/results/coverage.json
    python bench/coverage.py --only "high (0.85 / 0.92)" 5 0.15 --bounded 1500 --seed 1234
        # one cell, measured more closely (writes bench/results/coverage-cell.json)
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

ITEMS = 150
POOL = 300
SHARED = 0.5
BOUNDED = 400
EXTRA = 5
POINTS = {
    "quickstart (0.07 / 0.17)": (0.07, 0.10, 0.17, 0.04),
    "mid (0.40 / 0.80)": (0.40, 0.56, 0.80, 0.30),
    "narrow gap (0.55 / 0.60)": (0.55, 0.575, 0.60, 0.50),
    "high (0.85 / 0.92)": (0.85, 0.88, 0.92, 0.70),
    "no gain (0.30 / 0.60)": (0.30, 0.30, 0.60, 0.20),
    "below weak (0.35 / 0.60)": (0.35, 0.25, 0.60, 0.20),
    "controls (0.35 / 0.63)": (0.35, 0.60, 0.63, 0.10),
}
"""Operating point -> (weak, W2S, ceiling, strong base) accuracy: the published quickstart's
low accuracies, a wide gap, a gap of 0.05, accuracies near 0.9, a PGR of 0, W2S below its
supervisor (as most published entries are), and the probe control's (W2S far above weak)."""
SDS = (0.0, 0.05, 0.15)
SEEDS = (1, 3, 5)
EXTRA_ROWS = [(p, k, 0.05, n, False) for p in ("mid (0.40 / 0.80)", "below weak (0.35 / 0.60)")
              for k in (3, 5) for n in (120, 300)] + \
    [(p, k, sd, 70, True) for p in ("controls (0.35 / 0.63)", "below weak (0.35 / 0.60)")
     for k in (3, 5) for sd in (0.0, 0.05, 0.15)]
"""Beyond the grid at ``ITEMS``: 120 and 300 test items a seed, and seeds sharing one
pretrained model and a pool of ``POOL`` items, 70 test items a seed (``controls``' shape)."""
TRUTH_DRAWS = 1000
"""Seeds' training noise drawn for a shared run's truth."""
METHODS = 6
SLOPE = 0.5
OUT = Path(__file__).parent / "results" / "coverage.json"


def _accuracies(rng, point: tuple[float, ...], seeds: int, sd: float,
                shared: bool = False) -> np.ndarray:
    """(seeds, 4) accuracies of weak, W2S, ceiling and strong base, each seed's training
    noise applied (``shared``: one pretrained strong model, so no S)."""
    weak_shift, strong_shift = rng.normal(0, sd, (2, seeds))
    if shared:
        strong_shift = rng.normal(0, sd / 2 ** 0.5, seeds)  # the ceiling's fine-tuning alone
    own = rng.normal(0, sd / 2 ** 0.5, seeds)
    student = (weak_shift + (0 if shared else strong_shift)) / 2 + own
    base = np.zeros(seeds) if shared else strong_shift
    shifts = np.stack([weak_shift, student, strong_shift, base], 1)
    return np.clip(np.array(point) + shifts, 0.01, 0.99)


def _items(rng, accuracy: np.ndarray, items: int = ITEMS, difficulty=None,
           fixed=None) -> np.ndarray:
    """(models, items) 0/1 scores for one seed: model m right on item i when its copula draw
    falls under its accuracy, the draws sharing each item's ``difficulty`` (drawn here unless
    given); ``fixed``: the untuned model's own draws, the same every seed."""
    from scipy.stats import norm

    shared = rng.standard_normal(items) if difficulty is None else difficulty
    own = rng.standard_normal((len(accuracy), items))
    if fixed is not None:
        own[-1] = fixed
    latent = SHARED ** 0.5 * shared + (1 - SHARED) ** 0.5 * own
    return (norm.cdf(latent) < accuracy[:, None]).astype(float)


def truth(point: tuple[float, ...], sd: float, shared: bool = False) -> np.ndarray:
    """Each model's expected accuracy over seeds, clipping included."""
    return _accuracies(np.random.default_rng(12345), point, 400_000, sd, shared).mean(axis=0)


@lru_cache(maxsize=None)
def _shared_cuts(point: tuple[float, ...], sd: float) -> np.ndarray:
    """Draws of the three trained models' latent cut-offs (the inverse normal of their
    accuracy) over seeds of a shared run, for ``_pool_truth``."""
    from scipy.stats import norm

    acc = _accuracies(np.random.default_rng(12345), point, TRUTH_DRAWS, sd, shared=True)
    return norm.ppf(acc[:, :3])


def _pool_truth(point: tuple[float, ...], sd: float, difficulty, fixed) -> np.ndarray:
    """A shared run's truth: each model's expected accuracy over its pool and its seeds."""
    from scipy.special import ndtr

    right = ndtr((_shared_cuts(point, sd)[:, :, None] - SHARED ** 0.5 * difficulty)
                 / (1 - SHARED) ** 0.5).mean(axis=(0, 2))
    base = (ndtr(SHARED ** 0.5 * difficulty + (1 - SHARED) ** 0.5 * fixed) < point[3]).mean()
    return np.array([*right, base])


def _covered(low, high, value) -> bool:
    return low is not None and high is not None and low <= value <= high


def accuracy_row(point: tuple[float, ...], seeds: int, sd: float, runs: int,
                 seed: int = 0, want: int = BOUNDED, extra: int = EXTRA, items: int = ITEMS,
                 shared: bool = False) -> dict[str, float]:
    """Coverage of the PGR, difference and equivalence intervals at one configuration, over
    ``runs`` runs; the PGR's coverage over bounded runs alone keeps drawing runs (up to
    ``extra`` x ``runs``) until ``want`` of them are bounded, since where the gap is rarely
    resolved a few hundred runs leave too few bounded ones to measure it."""
    from harness.stats import paired_difference, pooled_pgr

    rng = np.random.default_rng(seed)
    fixed_truth = None if shared else truth(point, sd)
    hits = {"pgr": 0, "difference": 0, "base": 0, "equivalence": 0}
    bounded = inside = drawn = 0
    while drawn < runs or (bounded < want and drawn < extra * runs):
        if shared:
            pool, fixed = rng.standard_normal((2, POOL))
            true = _pool_truth(point, sd, pool, fixed)
            picks = [rng.choice(POOL, items, replace=False) for _ in range(seeds)]
            run = [_items(rng, a, items, pool[i], fixed[i])
                   for a, i in zip(_accuracies(rng, point, seeds, sd, True), picks)]
        else:
            true = fixed_truth
            run = [_items(rng, a, items) for a in _accuracies(rng, point, seeds, sd)]
        weak, w2s, ceiling, base = true
        est, note = pooled_pgr([dict(zip(("weak", "w2s", "ceiling"), s)) for s in run])
        covers = est is not None and note is None and \
            _covered(est.low, est.high, (w2s - weak) / (ceiling - weak))
        bounded += est is not None and note is None
        inside += covers
        drawn += 1
        if drawn > runs:
            continue
        hits["pgr"] += covers or est is None or note is not None
        pairs = [(s[1], s[0]) for s in run]
        d95, d90 = paired_difference(pairs), paired_difference(pairs, confidence=0.90)
        hits["difference"] += _covered(d95.low, d95.high, w2s - weak)
        hits["equivalence"] += _covered(d90.low, d90.high, w2s - weak)
        vs = paired_difference([(s[1], s[3]) for s in run])
        hits["base"] += _covered(vs.low, vs.high, w2s - base)
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


def table(runs: int, configs: list[tuple] | None = None) -> list[dict]:
    """One row per (operating point, seeds, seed sd, items, shared), or per ``configs``."""
    configs = configs or [(p, k, sd, ITEMS, False) for p in POINTS for k in SEEDS
                          for sd in SDS] + EXTRA_ROWS
    rows = []
    for i, (name, k, sd, n, shared) in enumerate(configs):
        row = {"point": name, "seeds": k, "seed_sd": sd, "items": n, "shared": shared,
               **accuracy_row(POINTS[name], k, sd, runs, seed=i, items=n, shared=shared)}
        if name == next(iter(POINTS)) and n == ITEMS:
            row.update(slope_row(k, sd, runs, seed=i))
        rows.append(row)
    return rows


NOMINAL = {"pgr": 0.95, "pgr_bounded": 0.95, "difference": 0.95, "base": 0.95,
           "equivalence": 0.90, "slope": 0.95}
MISS = 0.02
"""A cell more than this below or above its nominal level is marked (outside 0.93-0.97 for a
95% interval): under-coverage claims too much, over-coverage is power lost."""


def marked(column: str, value: float) -> bool:
    return column in NOMINAL and abs(value - NOMINAL[column]) > MISS


def markdown(rows: list[dict]) -> str:
    """The table as docs/statistics.md shows it: a cell outside nominal ± ``MISS`` in bold."""
    cols = ["pgr", "pgr_bounded", "bounded_runs", "unbounded", "difference", "base",
            "equivalence", "slope"]
    head = ("| operating point (weak / ceiling) | seeds | seed sd | items | PGR (all) "
            "| PGR (bounded) | bounded runs | unbounded | W2S - weak | W2S - strong base "
            "| 90% (equivalence) | slope (finding 3) |")
    lines = [head, "|" + "---|" * 12]
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
            cells.append(f"**{v:.3f}**" if marked(c, v) else f"{v:.3f}")
        items = f"{r['items']}" + (" from a shared pool, one pretrained model"
                                   if r["shared"] else "")
        lines.append(f"| {r['point']} | {r['seeds']} | {r['seed_sd']:.2f} | {items} | "
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
        row = {"point": name, "seeds": k, "seed_sd": sd, "items": ITEMS, "shared": False,
               "seed": args.seed,
               **accuracy_row(POINTS[name], k, sd, args.runs, args.seed, args.bounded, 20)}
        (OUT.parent / "coverage-cell.json").write_text(json.dumps(row, indent=1) + "\n")
        print(json.dumps(row))
        return
    rows = table(args.runs)
    OUT.write_text(json.dumps({"runs": args.runs, "rows": rows}, indent=1)
                   + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
