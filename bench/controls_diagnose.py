"""Why a control's student does what it does: which route its test answers take.

    HARNESS_HOME=... python bench/controls_diagnose.py RUN_DIR

For each seed, and for the ceiling and each arm's student, over the test items: how often its
answer is the gold code, and how often it is the training label of the most similar training
name (character-trigram Jaccard overlap of the names): the surface route, which needs no
knowledge of the person. A student that
generalises through what it knows answers gold more often than the labels it trained on
were right; one that generalises by surface copies its nearest neighbour's label.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from statistics import fmean

from harness import outputs
from harness.record import load
from harness.store import home


def grams(text: str) -> set[str]:
    name = text.split("where does ")[1].split(" live?")[0]
    padded = f"^{name}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def nearest_label(prompt: str, train: list[tuple[set[str], str]]) -> str:
    mine = grams(prompt)
    return max(train, key=lambda t: len(mine & t[0]) / len(mine | t[0]))[1]


def main(run_dir: Path) -> None:
    manifest = load(run_dir).model_dump(mode="json")["manifest"]
    cache = home() / "cache"
    at = {s["label"]: cache / s["stage"] / s["key"] for s in manifest["stages"]}
    rows: dict[tuple[str, str], list[float]] = defaultdict(list)
    for seed in manifest["suite"]["seeds"]:
        tag = f"[fact_city seed {seed}]"
        data = at[f"data fact_city seed {seed}"]
        trained_on: dict[str, str | None] = {"ceiling": None}
        for label in at:
            if label.startswith("label simulated") and tag in label:
                arm = "positive-control" if "errors=random" in label else "negative-control"
                trained_on[arm] = label
        for who, source in trained_on.items():
            preds = outputs.predictions(at[f"grade eval {who} {tag} (test)"])
            if source is None:  # the ceiling trained on the unlabeled split's gold
                train = [(grams(r.prompt), r.target) for r in outputs.rows(data, "unlabeled")]
                right = 1.0
            else:
                train = [(grams(c.prompt), c.completion) for c in outputs.completions(at[source])]
                right = fmean(p.score for p in outputs.predictions(at[f"grade {source}"]))
            near = [p.completion.strip() == nearest_label(p.prompt, train).strip()
                    for p in preds]
            rows[(who, "training labels right")].append(right)
            rows[(who, "test answer gold")].append(fmean(p.score for p in preds))
            rows[(who, "test answer = nearest name's training label")].append(fmean(near))
    print("| model | measure | mean over seeds | per seed |")
    print("|---|---|---|---|")
    for (who, what), values in rows.items():
        print(f"| {who} | {what} | {fmean(values):.3f} | "
              f"{', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
