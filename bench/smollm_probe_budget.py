"""What a `smollm-probe` design costs on 2 cores, from a pilot's own stage times (issue 49).

Each stage line of a pilot run's log (``[i/n] LABEL [esnli seed S] ...: done in X s``) for one
uncontended seed gives a rate: seconds an item for the decodes, the features and the
supervisors' labels, seconds a step for the 4-block copy's training, seconds a head (taken to
grow with the unlabeled items it is fitted on). A design (seeds, unlabeled and test items a
seed, with or without the 4-block copy) costs the sum of its stages at those rates, plus the
model conversion. An estimate, printed beside the rates it used; the suite's own run is the
measurement.

    python bench/smollm_probe_budget.py LOG --seed 1 --pilot-unlabeled 1500 --pilot-test 300 \\
        --labeled 800 --design 3:2000:1000 --design 5:1500:600 [--with-l4]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

LINE = re.compile(r"\] (?P<label>.+?) \[esnli seed (?P<seed>\d+)\](?: \((?P<split>\w+)\))?: "
                  r"done in (?P<s>[0-9.]+)s")
EPOCHS, BATCH = 3, 8
"""The 4-block copy's training: the pilot's weak_train epochs, and sft's default batch."""
CONVERT_S = 30.0
"""SmolLM2's conversion from its GGUF file and the 4-block copy's truncation (seconds)."""


def stage_seconds(log: Path, seed: int) -> dict[str, float]:
    """Seconds per stage label (split appended) of one seed in a run's log."""
    out: dict[str, float] = {}
    for m in LINE.finditer(log.read_text(errors="replace")):
        if int(m["seed"]) == seed:
            key = m["label"] + (f" ({m['split']})" if m["split"] else "")
            out[key] = float(m["s"])
    return out


def rates(stages: dict[str, float], unlabeled: int, test: int, steps: int) -> dict[str, float]:
    """Per-item, per-step and per-head rates from one seed's stage seconds."""
    def pick(pattern: str) -> list[float]:
        return [s for k, s in stages.items() if re.search(pattern, k)]

    heads = pick(r"^head ")
    return {
        "strong 0-shot s/item": sum(pick(r"^eval strong base 0-shot")) / test,
        "strong 3-shot s/item": sum(pick(r"^eval strong base 3-shot")) / test,
        "weak base s/item": sum(pick(r"^eval weak base")) / test,
        "features s/item": sum(pick(r"^features ")) / (unlabeled + test),
        "l4 train s/step": sum(pick(r"^train weak")) / steps,
        "l4 decode s/item": sum(pick(r"^(eval weak|label) \(")) / (unlabeled + test),
        "head s (at the pilot's unlabeled)": sum(heads) / max(1, len(heads)),
        "heads a seed": float(len(heads)),
        "other s a seed": sum(s for k, s in stages.items() if k.startswith(("grade", "select",
                                                                             "data", "eval sup",
                                                                             "label tfidf"))),
    }


def cost(r: dict[str, float], seeds: int, unlabeled: int, test: int, labeled: int,
         pilot_unlabeled: int, with_l4: bool) -> float:
    """A design's estimated seconds on 2 cores."""
    per_seed = (test * (r["strong 0-shot s/item"] + r["strong 3-shot s/item"])
                + (unlabeled + test) * r["features s/item"]
                + r["heads a seed"] * r["head s (at the pilot's unlabeled)"] * unlabeled
                / pilot_unlabeled
                + r["other s a seed"])
    if with_l4:
        per_seed += (test * r["weak base s/item"] + labeled * EPOCHS / BATCH * r["l4 train s/step"]
                     + (unlabeled + test) * r["l4 decode s/item"])
    else:  # without the 4-block copy there are two heads fewer (its student and format control)
        per_seed -= 2 * r["head s (at the pilot's unlabeled)"] * unlabeled / pilot_unlabeled
    return CONVERT_S + seeds * per_seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--seed", type=int, required=True, help="the pilot's uncontended seed")
    parser.add_argument("--pilot-unlabeled", type=int, required=True)
    parser.add_argument("--pilot-test", type=int, required=True)
    parser.add_argument("--labeled", type=int, required=True)
    parser.add_argument("--design", action="append", required=True,
                        help="SEEDS:UNLABELED:TEST, repeatable")
    parser.add_argument("--with-l4", action="store_true")
    args = parser.parse_args()
    stages = stage_seconds(args.log, args.seed)
    steps = args.labeled * EPOCHS // BATCH
    r = rates(stages, args.pilot_unlabeled, args.pilot_test, steps)
    for name, value in r.items():
        print(f"{name}: {value:.3f}")
    for design in args.design:
        k, u, t = (int(x) for x in design.split(":"))
        s = cost(r, k, u, t, args.labeled, args.pilot_unlabeled, args.with_l4)
        print(f"design {k} seeds x ({u} unlabeled, {t} test){' with l4' if args.with_l4 else ''}:"
              f" {s:.0f} s ({s / 60:.1f} min)")


if __name__ == "__main__":
    main()
