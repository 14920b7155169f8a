"""How many seeds a suite needs at its own test size to detect a PGR, from a pilot run of it:
the internal pilot of ``bench/gpu-smollm.sh`` (issue 49).

For every method of the pilot and every capability it reports, ``harness.power.items_needed``
(the code behind ``harness plan --detect-pgr``) gives the test items a seed needs at each seed
count; the plan is the fewest seeds, from ``--least`` to ``--most``, at which every method and
capability needs no more than ``--test`` items. Whether to run them is ``decide``'s rule: only
when the seeds beyond the pilot's fit the time left at the pilot's own seconds a seed. Prints
one line per method and capability, the reason, and on its last line ``seeds N``: the seeds
to publish (the pilot's own where no more are run).

    python bench/gpu_smollm_seeds.py RUN --test 1000 --pilot-seconds S --left-seconds T \
        [--pgr 0.3] [--least 3] [--most 10]
"""

from __future__ import annotations

import argparse


def fewest_seeds(results: list, test: int, pgr: float, least: int, most: int
                 ) -> tuple[int | None, list[str]]:
    """The fewest seeds in [least, most] that detect ``pgr`` with ``test`` items a seed for
    every method and capability of a pilot's ``results``, and one line per (method,
    capability)."""
    from harness import power

    lines, worst = [], least
    for method in dict.fromkeys(r.method for r in results):
        for cap, (design, gap) in power.pgr_design(results, method).items():
            fewest = next((k for k in range(least, most + 1)
                           if (n := power.items_needed(design, gap, pgr, k)) and n <= test),
                          None)
            lines.append(f"{method} {cap}: gap {gap:.3f}, fewest seeds at {test} items: "
                         f"{fewest if fewest else f'over {most}'}")
            worst = max(worst, fewest or most + 1)
    return (worst if worst <= most else None), lines


def decide(fewest: int | None, pilot_seeds: int, pilot_seconds: float, left_seconds: float
           ) -> tuple[int, str]:
    """The seeds to publish and why: the plan's ``fewest`` when the seeds it adds to the
    pilot's fit ``left_seconds`` at the pilot's seconds a seed, else the pilot's own."""
    if fewest is None:
        return pilot_seeds, "no seed count up to the limit detects the target: the pilot's seeds"
    if fewest <= pilot_seeds:
        return pilot_seeds, f"the plan needs {fewest}: the pilot's {pilot_seeds} suffice"
    need = (fewest - pilot_seeds) * pilot_seconds / pilot_seeds
    if need > left_seconds:
        return pilot_seeds, (f"the plan needs {fewest}; {fewest - pilot_seeds} more at "
                             f"{pilot_seconds / pilot_seeds:.0f} s each do not fit the "
                             f"{left_seconds:.0f} s left: the pilot's {pilot_seeds}")
    return fewest, f"the plan needs {fewest}; the {fewest - pilot_seeds} more fit"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the pilot run: id, prefix or path")
    parser.add_argument("--test", type=int, required=True, help="test items a seed")
    parser.add_argument("--pgr", type=float, default=0.3)
    parser.add_argument("--least", type=int, default=3)
    parser.add_argument("--most", type=int, default=10)
    parser.add_argument("--pilot-seconds", type=float, required=True)
    parser.add_argument("--left-seconds", type=float, required=True)
    args = parser.parse_args()
    from harness.history import find_run
    from harness.record import load
    from harness.store import Store

    results = load(find_run(Store(), args.run)).results
    fewest, lines = fewest_seeds(results, args.test, args.pgr, args.least, args.most)
    seeds, why = decide(fewest, len({r.seed for r in results}), args.pilot_seconds,
                        args.left_seconds)
    print("\n".join([*lines, why, f"seeds {seeds}"]))


if __name__ == "__main__":
    main()
