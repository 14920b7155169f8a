"""Each model's training recipe for the SmolLM2 suites, chosen on validation items (issue 33).

The design and the rule below were committed before any point ran.

Validation, never the test split: for e-SNLI and CREAK (label-only targets), the labeled split
the ``smollm`` suite draws at seed 0, taken 600 items long; its first 400 train and its last 200
validate. (The test split comes from the datasets' own test files and is never decoded here.)
Every model trains jointly on both capabilities' 400 items, as the suite's joint mixture does,
with the suite's trainer (``sft``: batch 8, weight decay 0.01, cosine decay) and is scored by
greedy decoding with the suite's decode settings, per capability.

Points, in this order, each run once and every one reported:

- the strong model (SmolLM2-135M-Instruct, 30 blocks), 2 epochs at lr 5e-5 (the suite's
  recipe), 1e-4 and 2e-4; then 3 epochs at the best of those three rates;
- the truncated weak models (the first 4, 8, 12 and 16 blocks), 3 epochs at lr 3e-4 (the
  suite's weak recipe, which trains the head to read a shallow block's states).

Rules, fixed in advance:

- a model's recipe is its point with the highest mean validation accuracy over the two
  capabilities;
- a weak model qualifies as a supervisor of a capability when its accuracy's 95% interval lies
  above chance and it sits at least 0.10 below the strong model's chosen point (a gap a
  power-sized run can measure; ``docs/results.md`` sizes it).

Run it with nothing else on the machine (about an hour on 2 cores):

    python bench/recipes.py --data-dir ../shared/data --out bench/results/recipes-smollm.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from statistics import NormalDist, fmean

CAPABILITIES = ("esnli", "creak")
TRAIN, VALIDATION = 400, 200
DECODE = {"batch_size": 32, "max_new_tokens": 16}
"""The ``smollm`` suite's decode settings."""
RECIPE = {"batch_size": 8, "micro_batch_size": 8, "weight_decay": 0.01}
STRONG = "smollm2-135m"
STRONG_LRS = (5e-5, 1e-4, 2e-4)
WEAK = {f"smollm2-135m-l{k}": {"lr": 3e-4, "epochs": 3} for k in (4, 8, 12, 16)}
Z = NormalDist().inv_cdf(0.975)


def splits(data_dir: str) -> dict:
    """Per capability: (its train rows, its validation rows, the capability)."""
    from harness.plugins import registry

    out = {}
    for name in CAPABILITIES:
        cap = registry().make("capabilities", name, {
            "labeled": TRAIN + VALIDATION, "unlabeled": 1, "test": 1, "explanation": "none"})
        labeled = cap.load(0, str(Path(data_dir) / name)).labeled
        out[name] = (labeled[:TRAIN], labeled[TRAIN:], cap)
    return out


def point(model: str, lr: float, epochs: float, data: dict, work: Path) -> list[dict]:
    """Train ``model`` at one recipe on every capability's train rows; score each validation."""
    from harness.bases import DecodeConfig, TrainContext, TrainExample
    from harness.plugins import registry
    from harness.resolver import resolve

    reg = registry()
    examples = [TrainExample(prompt=r.prompt, target=r.target)
                for train, _, _ in data.values() for r in train]
    trainer = reg.make("trainers", "sft", {**RECIPE, "lr": lr, "epochs": epochs})
    out = work / f"{model}-{lr:g}-{epochs:g}"
    (out / "work").mkdir(parents=True)
    t0 = time.perf_counter()
    trainer.train(resolve(model), examples, out / "model",
                  TrainContext(seed=0, work_dir=out / "work", progress_label=out.name))
    trained = time.perf_counter() - t0
    backend = reg.make("backends", "hf")
    rows = []
    for name, (train, valid, cap) in data.items():
        config = DecodeConfig.model_validate({**type(cap).decode.model_dump(), **DECODE})
        gens = backend.complete(str(out / "model"), [r.prompt for r in valid], config)
        right = [cap.score(r, g.text) for r, g in zip(valid, gens)]
        acc = fmean(right)
        half = Z * (acc * (1 - acc) / len(right)) ** 0.5
        rows.append({"model": model, "lr": lr, "epochs": epochs,
                     "steps": -(-len(examples) * epochs // RECIPE["batch_size"]),
                     "capability": name, "train": len(train), "validation": len(valid),
                     "accuracy": acc, "low": acc - half, "high": acc + half,
                     "chance": cap.chance, "train_seconds": round(trained, 1)})
    return rows


def best(rows: list[dict], model: str) -> tuple[float, float]:
    """``model``'s (lr, epochs) with the highest mean validation accuracy."""
    points: dict[tuple[float, float], list[float]] = {}
    for r in rows:
        if r["model"] == model:
            points.setdefault((r["lr"], r["epochs"]), []).append(r["accuracy"])
    return max(points, key=lambda k: fmean(points[k]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    data = splits(args.data_dir)
    rows: list[dict] = []

    def run(model: str, lr: float, epochs: float) -> None:
        for r in point(model, lr, epochs, data, work):
            rows.append(r)
            print(json.dumps(r), flush=True)
            with args.out.open("a") as f:
                f.write(json.dumps(r) + "\n")

    args.out.write_text("")
    with tempfile.TemporaryDirectory(prefix="bench-recipes-") as tmp:
        work = Path(tmp)
        for lr in STRONG_LRS:
            run(STRONG, lr, 2)
        run(STRONG, best(rows, STRONG)[0], 3)
        for model, recipe in WEAK.items():
            run(model, recipe["lr"], recipe["epochs"])
    strong = best(rows, STRONG)
    top = {r["capability"]: r["accuracy"] for r in rows
           if (r["model"], r["lr"], r["epochs"]) == (STRONG, *strong)}
    print(f"chosen: {STRONG} lr {strong[0]:g}, {strong[1]:g} epochs: {top}")
    for r in rows:
        if r["model"] != STRONG:
            ok = r["low"] > r["chance"] and top[r["capability"]] - r["accuracy"] >= 0.10
            print(f"{r['model']} on {r['capability']}: {r['accuracy']:.3f} "
                  f"[{r['low']:.3f}, {r['high']:.3f}]; supervisor: {'yes' if ok else 'no'}")


if __name__ == "__main__":
    main()
