"""Where a real pretrained LM leaves room for weak-to-strong generalization on the paper's data.

Each point is a real run of the ``smollm`` suite (SmolLM2-135M-Instruct strong, its first
blocks weak; naive W2S), on the original files (``--data-dir``), with one setting changed:
the capabilities and their prompt format, the strong model's learning rate, the weak model.
Stages are cached in one throwaway home, so points that share a stage (the same data, model
and training) compute it once.

The criteria were fixed before any point ran. At a point, a capability leaves room for W2S when,
on its >= 300 test items:

- (a) the ceiling beats the best untuned strong model (0- or 3-shot): paired 95% interval of
  ceiling - strong base above 0 (otherwise there is nothing for weak labels to elicit);
- (b) the ceiling beats the weak model: paired 95% interval of ceiling - weak above 0 (a gap
  to recover);
- (c) the weak model is above chance: its accuracy's 95% interval above chance (a
  supervisor that knows something).

Every point prints chance, the untuned strong model at 0 and 3 shots, the untuned weak model
(0-shot), weak, ceiling, W2S, both paired gaps, PGR (paired Fieller interval), whether W2S
beats weak and strong base, and which of (a)-(c) hold, whatever it shows. Run it with nothing
else on the machine:

    python bench/smollm.py --data-dir ../shared/data [--points defaults,lr=2e-5]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

LABEL_ONLY = {"labeled": 800, "unlabeled": 400, "test": 300, "explanation": "none"}
CHOICE = {"labeled": 800, "unlabeled": 400, "test": 300}
OWN_BUDGETS = {"batch_size": 32}
"""Each capability's own decode budget (the suite's 16 tokens would cut explanations and some
option texts)."""
POINTS: dict[str, dict] = {
    # The suite as it is: e-SNLI and CREAK with label-only targets.
    "defaults": {},
    # The paper's target format: the label, then the gold explanation.
    "explanation=after": {"caps": {"esnli": {**LABEL_ONLY, "explanation": "after"},
                                   "creak": {**LABEL_ONLY, "explanation": "after"}},
                          "decode": OWN_BUDGETS},
    # Multiple choice: the paper's lettered answer, the option's text alone, and SciQ with its
    # supporting passage.
    "sciq": {"caps": {"sciq": CHOICE}, "decode": OWN_BUDGETS},
    "sciq target=text": {"caps": {"sciq": {**CHOICE, "target": "text"}}, "decode": OWN_BUDGETS},
    "sciq support": {"caps": {"sciq": {**CHOICE, "support": True}}, "decode": OWN_BUDGETS},
    "openbookqa target=text": {"caps": {"openbookqa": {**CHOICE, "target": "text"}},
                               "decode": OWN_BUDGETS},
    "mctaco": {"caps": {"mctaco": {"labeled": 800, "unlabeled": 400, "test": 300}}},
    # The strong model's training (the ceiling's and the student's).
    "lr=2e-5": {"lr": 2e-5},
    "lr=1e-4": {"lr": 1e-4},
    "unlabeled=800": {"caps": {"esnli": {**LABEL_ONLY, "unlabeled": 800},
                               "creak": {**LABEL_ONLY, "unlabeled": 800}}},
    # The weak model: more blocks kept.
    "weak=l8": {"weak": "smollm2-135m-l8"},
}


def suite_for(values: dict):
    from harness.schemas import Suite
    from harness.runs import find_suite

    data = Suite.from_file(find_suite("smollm")).model_dump()
    if "caps" in values:
        data["capabilities"] = [{"name": n, "params": p} for n, p in values["caps"].items()]
    if "lr" in values:
        data["train"]["params"]["lr"] = values["lr"]
    if "weak" in values:
        data["weak"] = values["weak"]
    if "decode" in values:
        data["decode"] = values["decode"]
    return Suite.model_validate(data)


def point(values: dict, data_dir: str, home: Path) -> list[dict]:
    """Run the suite with ``values``; one row per capability."""
    from harness.executors import LocalExecutor
    from harness.plugins import registry
    from harness.record import load
    from harness.report import difference, summarise
    from harness.runs import apply_overrides, run_suite
    from harness.store import Store

    suite = apply_overrides(suite_for(values), registry(), data_dir=data_dir)
    run_dir, _ = run_suite(suite, registry(), Store(home), "hf", set(), LocalExecutor())
    results = load(run_dir).results
    rows = []
    for s in summarise(results):
        rs = [r for r in results if r.capability == s.capability]
        gap = difference(rs, "ceiling", "weak")
        weak_low = s.weak.mean - 1.96 * (s.weak.mean * (1 - s.weak.mean) / s.items_n) ** 0.5
        holds = {"a": _above(s.ceiling_over_base), "b": _above(gap),
                 "c": s.chance is not None and weak_low > s.chance}
        rows.append({
            "capability": s.capability, "n": s.items_n, "chance": s.chance,
            "strong 0-shot": s.baselines["strong_0shot"].mean,
            "strong 3-shot": s.baselines["strong_3shot"].mean,
            "weak 0-shot": s.baselines["weak_0shot"].mean,
            "weak": s.weak.mean, "ceiling": s.ceiling.mean, "w2s": s.w2s.mean,
            "ceiling - base": s.ceiling_over_base.bracket() if s.ceiling_over_base else "n/a",
            "ceiling - weak": gap.bracket(), "pgr": s.pgr_text(),
            "generalizes": s.generalizes, "empty": s.empty,
            "criteria": "".join(k for k, v in holds.items() if v) or "-",
        })
    return rows


def _above(e) -> bool:
    return e is not None and e.low is not None and e.low > 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(Path(__file__).parents[1].parent / "shared" / "data"))
    ap.add_argument("--points", default=",".join(POINTS), help="comma-separated point names")
    ap.add_argument("--home", help="stage cache to reuse (default: a throwaway one)")
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_QUIET", "1")
    from tabulate import tabulate

    names = args.points.split(",")
    unknown = [n for n in names if n not in POINTS]
    if unknown:
        raise SystemExit(f"error: unknown point {unknown[0]!r}; known: {', '.join(POINTS)}")
    with tempfile.TemporaryDirectory(prefix="bench-smollm-") as tmp:
        home = Path(args.home or tmp)
        table = []
        for name in names:
            t0 = time.perf_counter()
            for r in point(POINTS[name], args.data_dir, home):
                table.append([name, *[f"{v:.3f}" if isinstance(v, float) else v
                                      for v in r.values()]])
                keys = list(r)
                print(json.dumps({"point": name, **r}), flush=True)  # each as it finishes
            print(f"{name}: {time.perf_counter() - t0:.0f}s", flush=True)
    print(tabulate(table, headers=["point", *keys], disable_numparse=True))


if __name__ == "__main__":
    main()
