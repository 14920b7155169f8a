"""MC-TACO (Zhou et al. 2019): temporal commonsense, yes/no per candidate answer.

Local layout (``<dir>/mctaco/``) as in CogComp/MCTACO: ``dev_3783.tsv`` and ``test_9442.tsv``,
no header, columns sentence, question, answer, label (yes/no), category. Hub:
``CogComp/mc_taco`` (config ``plain_text``; splits ``validation`` and ``test``; ``label`` 0=no,
1=yes). There is no train split: both are pooled and re-split, with all candidates of one
question kept in one split. Besides per-candidate accuracy, the dataset's own per-question
exact match (every candidate of a question right) is reported as ``em``.
"""

from __future__ import annotations

from typing import Any

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl
from harness.errors import DataError
from harness.sources import field, hub_pools, is_local, local_dir, need, tsv

FILES = ("dev_3783.tsv", "test_9442.tsv")
CATEGORIES = ["Event Duration", "Event Ordering", "Frequency", "Typical Time", "Stationarity"]
SYNONYMS = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}


class MCTaco(Capability):
    """MC-TACO temporal reasoning: is each candidate answer plausible, yes or no."""

    name = "mctaco"
    chance = 0.5
    labels = True
    version = 1
    default_source = "CogComp/mc_taco"
    decode = DecodeConfig(max_new_tokens=8, stop=["\n"])
    Params = SplitSizes

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name)
            train = []
            for name in FILES:
                path = need(root / name, self.name)
                for n, cols in enumerate(tsv(path), 1):
                    if len(cols) != 5:
                        raise DataError(f"{path} line {n} has {len(cols)} columns, expected 5")
                    sentence, question, answer, label, category = cols
                    train.append({"sentence": sentence, "question": question, "answer": answer,
                                  "label": 1 if label == "yes" else 0,
                                  "category": CATEGORIES.index(category)})
            raw = {"train": train}
        else:
            raw = hub_pools(source, "plain_text",
                            {"train": ("validation", "test")})
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        sentence = field(raw, "sentence", self.name, where).strip()
        question = field(raw, "question", self.name, where).strip()
        candidate = field(raw, "answer", self.name, where).strip()
        label = "yes" if int(field(raw, "label", self.name, where)) == 1 else "no"
        category = raw.get("category")
        return Row(
            id=f"mctaco-{index}",
            prompt=f"{sentence}\nQuestion: {question}\nCandidate answer: {candidate}\n"
                   "Is the candidate answer plausible? Answer yes or no.\nAnswer:",
            target=f" {label}", answer=label,
            meta={"question_key": f"{sentence}\t{question}",
                  "category": CATEGORIES[category] if isinstance(category, int) else category},
        )

    def group_of(self, row: Row) -> str:
        return row.meta["question_key"]

    extract = [{"label": {"synonyms": SYNONYMS}}]

    def metrics(self, rows: list[Row], scores: list[float]) -> dict[str, float]:
        per_question: dict[str, bool] = {}
        for row, s in zip(rows, scores):
            key = row.meta["question_key"]
            per_question[key] = per_question.get(key, True) and s == 1.0
        return {"em": sum(per_question.values()) / max(1, len(per_question))}


@hookimpl
def register_capabilities(register):
    register(MCTaco)
