"""SciQ (Welbl et al. 2017): crowd-sourced science exam questions, four options.

Local layout (``<dir>/sciq/``): ``train.json``, ``valid.json``, ``test.json``, each one JSON
array of ``{question, distractor1..3, correct_answer, support}``. Hub: ``allenai/sciq`` with the
same fields (splits train / validation / test). The correct answer is always its own field, so
options are shuffled with a fixed per-question seed before lettering. Train and valid form the
pool; test is the test.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from pydantic import Field

from harness import Row, hookimpl
from harness.sources import VALIDATION_IN_TRAIN, field, hub_pools, is_local, json_array, local_dir, need
from harness_plugins.capabilities.formats import ChoiceSizes, MultipleChoice


class SciQ(MultipleChoice):
    """SciQ science questions: pick one of four options."""

    name = "sciq"
    chance = 0.25
    version = 1
    default_source = "allenai/sciq"

    class Params(ChoiceSizes):
        support: bool = Field(False, description="prepend the supporting paragraph when present")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name)
            read = lambda s: json_array(need(root / f"{s}.json", self.name))  # noqa: E731
            raw = {"train": read("train") + read("valid"), "test": read("test")}
        else:
            raw = hub_pools(source, None, VALIDATION_IN_TRAIN)
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        question = field(raw, "question", self.name, where).strip()
        correct = field(raw, "correct_answer", self.name, where).strip()
        choices = [correct] + [field(raw, f"distractor{k}", self.name, where).strip()
                               for k in (1, 2, 3)]
        # The option order depends on the question only, so both sources letter alike.
        digest = hashlib.sha256(question.encode()).hexdigest()
        random.Random(int(digest[:12], 16)).shuffle(choices)
        support = (raw.get("support") or "").strip()
        return self.mc_row(
            id=f"sciq-{digest[:16]}", question=question, choices=choices,
            gold=choices.index(correct),
            context=f"Support: {support}" if self.params.support and support else None,
        )


@hookimpl
def register_capabilities(register):
    register(SciQ)
