"""The CPU testbed's sweep: whether weak-to-strong generalization appears on tiny models.

One axis at a time around the testbed's defaults (``quickstart``'s suite and the
``testbed-*`` models), each point a real run of naive W2S and consistency selection, in this
process (the varied model specs live in this process's ``harness.tinymodels.TINY``). Each row
carries what could make it empty: chance, the best untuned strong model on the test split and
the ceiling's gain over it, and W2S against that baseline (paired 95% intervals). Axes:

- ``answer``: how the fact capabilities ask for the answer (``relabel``, the design;
  ``new_words``; ``plain``, the first testbed's, which the untuned model recites);

- ``weak_share``: the share of the facts the weak model is pretrained on (weak accuracy);
- ``strong_steps``: the strong model's pretraining steps (how much it already holds);
- ``strong_width``: the strong model's width (its size);
- ``unlabeled``: weak labels per capability (both capabilities scaled together);
- ``epochs`` and ``lr``: the student's training (the ceiling's too: one ``train`` per suite);
- ``weak_lr`` and ``weak_epochs``: the weak model's gold fine-tuning.

Each point prints those beside weak, ceiling and W2S accuracy and the PGR with its 95%
interval. Models are cached by their spec under ``$HARNESS_MODELS``; stages under a
throwaway ``$HARNESS_HOME``. Run it with nothing else on the machine.

    python bench/testbed.py [--seeds 0] [--axes weak_share,epochs]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

AXES: dict[str, list] = {
    "answer": ["relabel", "new_words", "plain"],
    "weak_share": [0.4, 0.6, 0.8],
    "strong_steps": [400, 800],
    "strong_width": [96, 128],
    "unlabeled": [0.5, 1.0],
    "epochs": [2, 4, 8],
    "lr": [3e-4, 1e-3],
    "weak_lr": [1e-3, 3e-3],
    "weak_epochs": [16, 64],
}
DEFAULTS = {"answer": "relabel", "weak_share": 0.6, "strong_steps": 800, "strong_width": 128,
            "unlabeled": 1.0, "epochs": 4, "lr": 3e-4, "weak_lr": 1e-3,
            "weak_epochs": 16}


def point(values: dict, seeds: list[int], home: Path) -> list[dict]:
    """Run the quickstart suite with ``values``; one row per method and capability."""
    from harness import tinymodels
    from harness.executors import LocalExecutor
    from harness.schemas import Suite
    from harness.plugins import registry
    from harness.report import summarise
    from harness.runs import find_suite, run_suite
    from harness.record import load
    from harness.store import Store

    weak, strong = tinymodels.TINY["testbed-weak"], tinymodels.TINY["testbed-strong"]
    width = values["strong_width"]
    tinymodels.TINY["testbed-weak"] = weak.model_copy(update={"corpus_share": values["weak_share"]})
    tinymodels.TINY["testbed-strong"] = strong.model_copy(update={
        "pretrain_steps": values["strong_steps"], "hidden_size": width,
        "intermediate_size": 4 * width, "num_attention_heads": width // 32})
    try:
        data = Suite.from_file(find_suite("quickstart")).model_dump()
        data["seeds"] = seeds
        for cap in data["capabilities"]:
            cap["params"]["unlabeled"] = int(cap["params"]["unlabeled"] * values["unlabeled"])
            cap["params"]["answer"] = values["answer"]
        data["train"]["params"].update(epochs=values["epochs"], lr=values["lr"])
        data["weak_train"]["params"].update(lr=values["weak_lr"], epochs=values["weak_epochs"])
        suite = Suite.model_validate(data)
        run_dir, _ = run_suite(suite, registry(), Store(home), "hf", set(),
                               LocalExecutor(in_process=True))
    finally:
        tinymodels.TINY["testbed-weak"], tinymodels.TINY["testbed-strong"] = weak, strong
    results = load(run_dir).results
    return [{"method": s.method, "capability": s.capability, "chance": s.chance,
             "base": s.baselines[s.strong_base].mean if s.strong_base else None,
             "weak": s.weak.mean, "ceiling": s.ceiling.mean, "w2s": s.w2s.mean,
             "ceiling_vs_base": s.ceiling_over_base.bracket() if s.ceiling_over_base else "n/a",
             "w2s_vs_base": s.vs_base.bracket() if s.vs_base else "n/a",
             "pgr": s.pgr_text(), "generalizes": s.generalizes}
            for s in summarise(results)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0", help="comma-separated split seeds")
    ap.add_argument("--axes", default=",".join(AXES), help="which axes to vary")
    ap.add_argument("--no-defaults", dest="defaults", action="store_false",
                    help="skip the defaults' own point")
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_QUIET", "1")
    seeds = [int(s) for s in args.seeds.split(",")]
    points = [("defaults", DEFAULTS)] if args.defaults else []
    for axis in args.axes.split(","):
        points += [(f"{axis}={v}", {**DEFAULTS, axis: v}) for v in AXES[axis]
                   if v != DEFAULTS[axis]]
    from tabulate import tabulate

    with tempfile.TemporaryDirectory(prefix="bench-testbed-") as home:
        rows = []
        for label, values in points:
            t0 = time.perf_counter()
            for r in point(values, seeds, Path(home)):
                rows.append([label, r["method"], r["capability"], f"{r['chance']:.3f}",
                             f"{r['base']:.3f}", f"{r['weak']:.3f}", f"{r['ceiling']:.3f}",
                             f"{r['w2s']:.3f}", r["ceiling_vs_base"], r["w2s_vs_base"],
                             r["pgr"], r["generalizes"]])
            print(f"{label}: {time.perf_counter() - t0:.0f}s", flush=True)
    print(tabulate(rows, headers=["point", "method", "capability", "chance", "strong base",
                                  "weak", "ceiling", "w2s", "ceiling - base [95% CI]",
                                  "w2s - base [95% CI]", "pgr [95% CI]",
                                  "beats weak and base?"], disable_numparse=True))


if __name__ == "__main__":
    main()
