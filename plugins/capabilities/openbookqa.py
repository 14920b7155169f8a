"""OpenBookQA (Mihaylov et al. 2018): elementary science questions, four options.

Local layout (``<dir>/openbookqa/``): AI2's release, ``OpenBookQA-V1-Sep2018/Data/Main/
{train,dev,test}.jsonl`` with ``id``, ``question.stem``, ``question.choices[].{text,label}``,
``answerKey``. Hub: ``allenai/openbookqa`` config ``main`` (``question_stem``,
``choices.{text,label}``, ``answerKey``). Train and dev form the pool; test is the test.
"""

from __future__ import annotations

from typing import Any

from harness import Row, hookimpl
from harness.errors import DataError
from harness.sources import VALIDATION_IN_TRAIN, field, hub_pools, is_local, jsonl, local_dir, need
from harness_plugins.capabilities.formats import MultipleChoice

LOCAL = ("OpenBookQA-V1-Sep2018", "Data", "Main")


class OpenBookQA(MultipleChoice):
    """OpenBookQA science fact reasoning: pick one of four options."""

    name = "openbookqa"
    chance = 0.25
    version = 1
    default_source = "allenai/openbookqa"

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name).joinpath(*LOCAL)
            read = lambda s: [local_to_hub(r) for r in jsonl(need(root / f"{s}.jsonl", self.name))]  # noqa: E731
            raw = {"train": read("train") + read("dev"), "test": read("test")}
        else:
            raw = hub_pools(source, "main", VALIDATION_IN_TRAIN)
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        choices = field(raw, "choices", self.name, where)
        labels, texts = list(choices["label"]), [t.strip() for t in choices["text"]]
        key = field(raw, "answerKey", self.name, where).strip()
        if key not in labels:
            raise DataError(f"openbookqa: row {where} answerKey {key!r} is not among {labels}")
        return self.mc_row(id=str(field(raw, "id", self.name, where)),
                           question=field(raw, "question_stem", self.name, where),
                           choices=texts, gold=labels.index(key))


def local_to_hub(raw: dict[str, Any]) -> dict[str, Any]:
    """AI2's nested ``question`` object -> the hub's flat columns."""
    q = raw.get("question", {})
    choices = q.get("choices", [])
    return {"id": raw.get("id"), "question_stem": q.get("stem"), "answerKey": raw.get("answerKey"),
            "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]}}


@hookimpl
def register_capabilities(register):
    register(OpenBookQA)
