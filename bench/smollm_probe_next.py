"""The next `smollm-probe` design (issue 49): each design's cost and predicted detectable PGR,
from a finished run of the suite (its own noise, through ``harness.power``, and its own stage
times). A design is seeds x test items a seed, with the untuned strong model's 0- and 3-shot
decodes on all of them or on a fixed number (``--baseline-items``: what the harness cannot do
yet, priced here to show what it would buy).

    python bench/smollm_probe_next.py RUN LOG [--baseline-items 300]

RUN is the run's published entry (its .json) or its id in $HARNESS_HOME; LOG the run's
console log, read by ``smollm_probe_budget.stage_seconds`` (one parser of its stage lines).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from smollm_probe_budget import stage_seconds

DECODES = r"^eval strong base [03]-shot"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("log", type=Path)
    parser.add_argument("--baseline-items", type=int, action="append", default=[])
    args = parser.parse_args()
    from harness import power
    from harness.history import find_run
    from harness.leaderboard import read_entry
    from harness.record import load
    from harness.store import Store

    run = (read_entry(Path(args.run)) if args.run.endswith(".json")
           else load(find_run(Store(), args.run)))
    results = run.results
    seeds = len({r.seed for r in results})
    test = round(sum(len(r.items["w2s"]) for r in results) / len(results))
    stages = [stage_seconds(args.log, seed) for seed in sorted({r.seed for r in results})]

    def seconds(pattern: str) -> float:
        return sum(t for one in stages for label, t in one.items() if re.search(pattern, label))

    decode = seconds(DECODES) / (seeds * test)
    features = seconds(r"^features test") / (seeds * test)
    fixed = seconds("") / seeds - (decode + features) * test
    print(f"from {seeds} seeds x {test} test items: {decode:.3f} s a test item for the two "
          f"decodes, {features:.3f} for its features, {fixed:.0f} s a seed besides")
    (design, gap), = power.pgr_design(results, results[0].method).values()
    print(f"gap {gap:.3f}; df of the estimated variance {design.df}")
    print("| baselines on | seeds | test items | est. minutes | predicted detectable PGR |")
    print("|---|---|---|---|---|")
    for base in [None, *args.baseline_items]:
        for k in (4, 5, 6, 7):
            for n in (300, 400, 500, 600, 800, 1000):
                if base is not None and base > n:
                    continue
                minutes = (k * (fixed + features * n + decode * (base or n)) + 60) / 60
                found = power.detectable_pgr(design.at(seeds=k, items=n), gap)
                shown = "none" if found is None else f"{found:.3f}"
                print(f"| {base or 'every test item'} | {k} | {n} | {minutes:.1f} | {shown} |")


if __name__ == "__main__":
    main()
