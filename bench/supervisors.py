"""The tfidf supervisor's accuracy on validation items, before any suite uses it (issue 33).

For each classification capability and seed: the capability's labeled split (800 items, as the
``smollm`` suite draws it, label-only targets), its last 200 items held out as validation and
the supervisor trained on the other 600. The test split is never read. Prints, and writes to
``--out``, each accuracy with its 95% binomial interval beside chance and the majority label's
share of the validation items (what a constant answer gets):

    python bench/supervisors.py --data-dir ../shared/data --out bench/results/supervisors-validation.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import NormalDist, fmean

CAPABILITIES = {"creak": {"labeled": 800, "unlabeled": 400, "test": 300, "explanation": "none"},
                "esnli": {"labeled": 800, "unlabeled": 400, "test": 300, "explanation": "none"}}
VALIDATION = 200
Z = NormalDist().inv_cdf(0.975)


def measure(name: str, params: dict, data_dir: str, seed: int) -> dict:
    from harness.plugins import registry

    reg = registry()
    cap = reg.make("capabilities", name, params)
    labeled = cap.load(seed, str(Path(data_dir) / name)).labeled
    train, valid = labeled[:-VALIDATION], labeled[-VALIDATION:]
    labels = reg.make("supervisors", "tfidf").label(
        cap, valid, {"labeled": train, "unlabeled": [], "test": []}, seed)
    right = [cap.score(r, t) for r, t in zip(valid, labels)]
    acc = fmean(right)
    half = Z * (acc * (1 - acc) / len(right)) ** 0.5
    golds = [cap.gold_of(r) for r in valid]
    return {"capability": name, "seed": seed, "train": len(train), "validation": len(valid),
            "accuracy": acc, "low": acc - half, "high": acc + half, "chance": cap.chance,
            "majority": max(golds.count(g) for g in set(golds)) / len(golds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = [measure(name, params, args.data_dir, int(seed))
            for name, params in CAPABILITIES.items() for seed in args.seeds.split(",")]
    print("| capability | seed | train / validation | tfidf accuracy [95%] | chance | majority |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['capability']} | {r['seed']} | {r['train']} / {r['validation']} | "
              f"{r['accuracy']:.3f} [{r['low']:.3f}, {r['high']:.3f}] | {r['chance']:.3f} | "
              f"{r['majority']:.3f} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
