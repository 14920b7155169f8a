"""ECQA (Aggarwal et al. 2021): CommonsenseQA with human explanations, five options.

Local layout (``<dir>/ecqa/``): ``cqa_data_val.csv`` and ``cqa_data_test.csv`` (ECQA's joined
CSVs: ``q_no, q_text, q_op1..q_op5, q_ans, taskB`` ...; quoted cells span lines), and, since the
original train CSV is not freely copyable, ``flan_cot/ecqa_train.tsv`` (FLAN's chain-of-thought
derivative of ECQA train: question with options, answer text, explanation; no ids). Locally the
train pool is FLAN's train plus val, re-split; the test pool is ECQA test.
Hub: ``tasksource/ecqa`` with the CSV's columns and splits train / validation / test.
"""

from __future__ import annotations

import hashlib
from typing import Any

from harness import DecodeConfig, Row, hookimpl
from harness.errors import DataError
from harness.sources import VALIDATION_IN_TRAIN, csv_dicts, field, hub_pools, is_local, local_dir, need, tsv
from harness_plugins.capabilities.formats import ExplainedChoiceSizes, MultipleChoice


class ECQA(MultipleChoice):
    """ECQA explainable commonsense QA: pick one of five options (explanation in target)."""

    name = "ecqa"
    chance = 0.2
    version = 1
    default_source = "tasksource/ecqa"
    decode = DecodeConfig(max_new_tokens=192, stop=["\n"])  # docs/gpus.md: decode budgets
    Params = ExplainedChoiceSizes

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name)
            train = [flan_to_hub(cols, n) for n, cols in
                     enumerate(tsv(need(root / "flan_cot" / "ecqa_train.tsv", self.name)), 1)]
            train += csv_dicts(need(root / "cqa_data_val.csv", self.name))
            raw = {"train": train, "test": csv_dicts(need(root / "cqa_data_test.csv", self.name))}
        else:
            raw = hub_pools(source, None, VALIDATION_IN_TRAIN)
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        choices = [field(raw, f"q_op{k}", self.name, where).strip() for k in range(1, 6)]
        answer = field(raw, "q_ans", self.name, where).strip()
        if answer not in choices:
            raise DataError(f"ecqa: row {where} answer {answer!r} is not one of its options")
        return self.mc_row(
            id=field(raw, "q_no", self.name, where), question=field(raw, "q_text", self.name, where),
            choices=choices, gold=choices.index(answer), explanation=raw.get("taskB") or None,
            placement=self.params.explanation, meta={"concept": raw.get("q_concept")},
        )


def flan_to_hub(cols: list[str], n: int) -> dict[str, str]:
    """FLAN's ``stem\\nOptions:\\n- a\\n- b ...`` row (literal backslash-n) -> ECQA's columns."""
    if len(cols) != 3:
        raise DataError(f"ecqa flan_cot/ecqa_train.tsv line {n} has {len(cols)} columns, expected 3")
    question, answer, rationale = cols
    stem, _, options = question.partition("\\nOptions:\\n")
    choices = [o[2:].strip() for o in options.split("\\n") if o.startswith("- ")]
    if len(choices) != 5:
        raise DataError(f"ecqa flan_cot/ecqa_train.tsv line {n} has {len(choices)} options, not 5")
    row = {"q_no": "flan-" + hashlib.sha1(stem.encode()).hexdigest()[:16], "q_text": stem,
           "q_ans": answer, "taskB": rationale, "q_concept": None}
    row.update({f"q_op{k}": c for k, c in enumerate(choices, 1)})
    return row


@hookimpl
def register_capabilities(register):
    register(ECQA)
