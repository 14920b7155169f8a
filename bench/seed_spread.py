"""How much each cell's seeds vary, per method of a published entry: the seed sd of W2S - weak
beside the part its test items alone would give (issue 48: why the intervals do not pool the
seeds' share over a suite's cells).

    python bench/seed_spread.py leaderboard/entries/controls/20261207T193120_controls_37681a.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import fmean, stdev


def main() -> None:
    from harness.leaderboard import read_entry

    entry = read_entry(Path(sys.argv[1]))
    cells: dict[tuple[str, str, str], list[list[float]]] = {}
    for r in entry.results:
        cells.setdefault((r.mixture, r.method, r.capability), []).append(
            [a - b for a, b in zip(r.items["w2s"], r.items["weak"])])
    print(f"{entry.id}: per cell, the sd over seeds of W2S - weak, and the sd its items alone "
          "give (the per-item sd / sqrt(items), averaged over seeds)")
    print("| mixture | method | capability | seeds | seed sd | items' share |")
    print("|---|---|---|---|---|---|")
    for (mixture, method, cap), seeds in cells.items():
        items = fmean(stdev(s) / len(s) ** 0.5 for s in seeds)
        print(f"| {mixture} | {method} | {cap} | {len(seeds)} | "
              f"{stdev([fmean(s) for s in seeds]):.3f} | {items:.3f} |")


if __name__ == "__main__":
    main()
