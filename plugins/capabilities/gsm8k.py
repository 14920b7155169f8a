"""GSM8K (Cobbe et al. 2021): grade-school math word problems, scored on the final number.

Local layout (``<dir>/gsm8k/``): ``train.jsonl`` and ``test.jsonl`` from openai/grade-school-math,
one ``{"question", "answer"}`` object per line, the answer a worked solution ending ``#### N``.
Hub: ``openai/gsm8k``, config ``main``, the same two fields.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl
from harness.scoring import canonical_number, to_number
from harness.sources import TRAIN_TEST, field, hub_pools, is_local, jsonl, local_dir, need

_CALCULATOR = re.compile(r"<<[^>]*>>")


class GSM8K(Capability):
    """GSM8K math word problems; the final number (after ``####``) is scored."""

    name = "gsm8k"
    chance = 0.0
    version = 1
    default_source = "openai/gsm8k"
    decode = DecodeConfig(max_new_tokens=320, stop=["\n\n", "Question:"])
    extract = [{"number": {"mode": "flexible"}}]

    class Params(SplitSizes):
        calculator_annotations: bool = Field(
            False, description="keep the <<48/2=24>> calculator annotations in targets"
        )

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name)
            raw = {s: list(jsonl(need(root / f"{s}.jsonl", self.name))) for s in ("train", "test")}
        else:
            raw = hub_pools(source, "main", TRAIN_TEST)
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        question = field(raw, "question", self.name, where)
        solution = field(raw, "answer", self.name, where)
        if not self.params.calculator_annotations:
            solution = _CALCULATOR.sub("", solution)
        work, _, number = solution.rpartition("####")
        return Row(
            id=f"gsm8k-{split}-{index}",
            prompt=f"Question: {question.strip()}\nAnswer:",
            target=f" {work.strip()}\n#### {number.strip()}",
            answer=number.strip().replace(",", ""),
            explanation=work.strip(),
        )

    def gold_of(self, row: Row) -> str:
        return canonical_number(to_number(row.answer)) or row.answer


@hookimpl
def register_capabilities(register):
    register(GSM8K)
