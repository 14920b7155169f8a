"""What a SmolLM2 suite must cost to detect PGR 0.3, before it runs (issue 33).

Per capability and weak supervisor (the truncated copies, and the tfidf classifier): the gap to
recover (the strong model's chosen recipe minus the supervisor, on validation items:
``bench/recipes.py``'s rows, ``bench/supervisors.py``'s), the noise of naive W2S's
gain over weak measured in the published pilots (item variance; seed variance where a pilot
had seeds), and from them, through ``harness.power.items_needed``, the test items a seed needs
for 3, 5, 8 and 10 seeds to detect PGR 0.3 at 80% power. Beside each: whether the capability
has that many test items, and the suite's wall time on 2 CPU cores at that size, from a cost
model of measured parts (train seconds per step of each model from the sweep, its fastest
point, decode seconds
per item from the ``controls-smollm`` run's uncontended seed). Estimated, not measured: every
run it describes is longer than this session's CPU allows.

    python bench/smollm_power.py --recipes bench/results/recipes-smollm.jsonl \\
        --out bench/results/smollm-power.json
"""

from __future__ import annotations

import argparse
import json
from math import ceil
from pathlib import Path
from statistics import fmean

ROOT = Path(__file__).resolve().parents[1]
PILOTS = {
    # capability -> (published entry, its naive-W2S method): the noise of W2S - weak per item
    "esnli": ("leaderboard/entries/smollm/20261201T221405_smollm_6e3265.json", "naive"),
    "creak": ("leaderboard/entries/smollm/20261201T221405_smollm_6e3265.json", "naive"),
}
SEED_VAR = ("leaderboard/entries/controls-smollm/20261203T225504_controls-smollm_de5c92.json",
            "positive-control")
"""Where the seed variance comes from for capabilities whose pilot had one seed: the only
SmolLM2 run with seeds (SciQ, 3 seeds)."""
TEST_POOL = {"esnli": 9824, "creak": 1371}
"""Test items there are: e-SNLI's test file is carved from its 19,666 dev+test rows (the
harness keeps a test of any size up to half of them; 9,824 is its own test file's size); CREAK's
is its dev file."""
TFIDF = "bench/results/supervisors-validation.json"
"""The classical supervisor's validation accuracy (600 items to train, 200 to validate, 3
seeds): other validation items than the sweep's, so its gap is approximate."""
DECODE_S = {"trained": 41.9 / 300, "0-shot": 74.2 / 300, "3-shot": 283.9 / 300}
"""Seconds per test item, from controls-smollm seed 2 (SciQ text targets, SmolLM2-135M; the
eval ceiling, strong base 0-shot and 3-shot stages, uncontended)."""
SEEDS = (3, 5, 8, 10)
TARGET = 0.3
LIMIT_MIN = 90


def noise(cap: str):
    """The pilot's PGR design for ``cap`` (gain and gap, per item), with the seeds' covariance
    of the only SmolLM2 run that had seeds where the pilot had one."""
    from harness.power import pgr_design
    from harness.schemas import CapabilityResult

    def results(path: str) -> list:
        entry = json.loads((ROOT / path).read_text())
        return [CapabilityResult.model_validate(r) for r in entry["results"]]

    path, method = PILOTS[cap]
    design, _ = pgr_design(results(path), method)[cap]
    seeds, _ = next(iter(pgr_design(results(SEED_VAR[0]), SEED_VAR[1]).values()))
    return design.model_copy(update={"seed_cov": design.seed_cov or seeds.seed_cov})


def seconds_per_seed(strong_step: float, weak_step: float, items: int, caps: int,
                     unlabeled: int, labeled: int, epochs: float, weak_epochs: float) -> float:
    """One seed of the suite on every capability jointly: the weak model's training, the
    ceiling's, naive W2S's and the format control's; their test decodes, the untuned strong
    model's at 0 and 3 shots, and the weak labels of the unlabeled split."""
    strong = 3 * ceil(caps * unlabeled * epochs / 8) * strong_step
    weak = ceil(caps * labeled * weak_epochs / 8) * weak_step
    decodes = caps * (items * (4 * DECODE_S["trained"] + DECODE_S["0-shot"] + DECODE_S["3-shot"])
                      + unlabeled * DECODE_S["trained"])
    return strong + weak + decodes


def main() -> None:
    from harness.power import items_needed
    from recipes import STRONG, best  # bench/, this script's folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--unlabeled", type=int, default=400)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.recipes.read_text().splitlines() if line.strip()]
    classical = json.loads((ROOT / TFIDF).read_text())
    for cap in TEST_POOL:  # the tfidf supervisor: its mean over bench/supervisors.py's seeds
        rows.append({"model": "tfidf", "capability": cap, "train_seconds": 0.0, "steps": 1,
                     "accuracy": fmean(r["accuracy"] for r in classical
                                       if r["capability"] == cap)})
    lr, epochs = best(rows, STRONG)  # the sweep's own rule
    ceiling = {r["capability"]: r["accuracy"] for r in rows
               if (r["model"], r.get("lr"), r.get("epochs")) == (STRONG, lr, epochs)}
    step: dict[str, float] = {}
    for r in rows:  # each model's fastest point: some shared the cores with other work
        step[r["model"]] = min(step.get(r["model"], 1e9), r["train_seconds"] / r["steps"])
    out = []
    print(f"strong recipe: lr {lr:g}, {epochs:g} epochs; validation "
          f"accuracy {ceiling}")
    print("| capability | supervisor | validation accuracy | gap | item var | seeds: test items "
          "a seed needs (pool) -> suite wall time, 2 cores |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["model"] == STRONG:
            continue
        cap = r["capability"]
        design = noise(cap)
        gap = ceiling[cap] - r["accuracy"]
        cells = []
        for k in SEEDS:
            n = items_needed(design, gap, TARGET, k)
            minutes = None if n is None else k * seconds_per_seed(
                step[STRONG], step[r["model"]], n, len(TEST_POOL), args.unlabeled,
                args.unlabeled, epochs, 3) / 60
            cells.append({"seeds": k, "items": n, "in_pool": n is not None and n <= TEST_POOL[cap],
                          "minutes": minutes})
        item_var, seed_var = design.item_cov[0][0], (design.seed_cov or [[0.0]])[0][0]
        out.append({"capability": cap, "supervisor": r["model"], "accuracy": r["accuracy"],
                    "ceiling": ceiling[cap], "gap": gap, "item_var": item_var,
                    "seed_var": seed_var, "sizes": cells})
        text = "; ".join(
            f"{c['seeds']}: unreachable" if c["items"] is None else
            f"{c['seeds']}: {c['items']}{'' if c['in_pool'] else ' (over the pool)'} -> "
            f"{c['minutes']:.0f} min" for c in cells)
        print(f"| {cap} | {r['model']} | {r['accuracy']:.3f} | {gap:.3f} | "
              f"{item_var:.3f} | {text} |")
    fits = [o for o in out for c in o["sizes"]
            if c["items"] and c["in_pool"] and c["minutes"] <= LIMIT_MIN]
    print(f"\nsizes within {LIMIT_MIN} min with PGR {TARGET} detectable: {len(fits)}")
    if args.out:
        args.out.write_text(json.dumps({"target_pgr": TARGET, "limit_minutes": LIMIT_MIN,
                                        "decode_seconds_per_item": DECODE_S,
                                        "train_seconds_per_step": step, "rows": out},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
