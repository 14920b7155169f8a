"""How often runs find the "could detect >= X" their design prints (issue 48), for the printed
figure as ``harness.power`` makes it and for two variants it replaced: the same design taken as
exact (its pooled seed share's estimation error ignored) and issue 32's outcome-based figure
(from one cell's own interval).

Per case (seeds, seed sd): 120 simulated runs of 12 cells each print a figure (per-item 0/1
scores, the weak model right on 40% of 150 items, W2S on 40% + effect, each seed shifting W2S
by N(0, sd)); each figure is tried on 50 fresh runs whose true effect is that figure; the table
gives the share found (interval above 0), averaged, and the printed figures' 10th-90th
percentiles.

    python bench/power_check.py > bench/results/issue48/power-check.md
"""

from __future__ import annotations

import numpy as np

PRINTED, TRIED, CELLS, ITEMS = 120, 50, 12, 150
CASES = [(3, 0.0), (5, 0.0), (3, 0.04), (5, 0.04)]


def _cells(rng, seeds: int, effect: float, sd: float, cells: int) -> list:
    """``cells`` cells (seed -> series -> items) of W2S - weak per item."""
    out = []
    for _ in range(cells):
        cell = []
        for _ in range(seeds):
            weak = (rng.random(ITEMS) < 0.4).astype(float)
            w2s = rng.random(ITEMS) < np.clip(0.4 + effect + rng.normal(0, sd), 0, 1)
            cell.append([list(w2s - weak)])
        out.append(cell)
    return out


def _found(cells: list) -> float:
    from harness.stats import paired_difference

    return float(np.mean([paired_difference([(s[0], [0.0] * ITEMS) for s in c]).low > 0
                          for c in cells]))


def main() -> None:
    from harness.power import designs, detectable
    from harness.stats import detectable_ses, interval, quantile

    variants = {
        "harness.power (estimate's error averaged in)": lambda d, one: detectable(d),
        "the same design taken as exact": lambda d, one: detectable(
            d.model_copy(update={"df": None})),
        "issue 32: from one cell's own interval": lambda d, one: detectable_ses(len(one))
        * (lambda e: (e.high - e.low) / 2 / quantile(len(one)))(interval([s[0] for s in one])),
    }
    print("| figure | seeds | seed sd | found (mean over printed figures) | printed, "
          "10th-90th percentile |")
    print("|---|---|---|---|---|")
    for name, figure in variants.items():
        for seeds, sd in CASES:
            rng = np.random.default_rng(seeds * 10 + int(sd * 100))
            printed, found = [], []
            for _ in range(PRINTED):
                cells = _cells(rng, seeds, 0.0, sd, CELLS)
                printed.append(figure(designs(cells)[0], cells[0]))
                found.append(_found(_cells(rng, seeds, printed[-1], sd, TRIED)))
            low, high = np.percentile(printed, [10, 90])
            print(f"| {name} | {seeds} | {sd:.2f} | {np.mean(found):.3f} | "
                  f"{low:.3f}-{high:.3f} |")


if __name__ == "__main__":
    main()
