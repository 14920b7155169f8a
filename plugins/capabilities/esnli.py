"""e-SNLI (Camburu et al. 2018): natural language inference with human explanations.

Local layout (``<dir>/esnli/``): the authors' tokenised, line-aligned per-field files for
``dev`` and ``test``: ``s1.<split>`` (premise), ``s2.<split>`` (hypothesis), ``labels.<split>``,
``preproc1_expl_{1,2,3}.<split>``. The train files are not freely copyable, so locally dev and
test are pooled and re-split. Hub: ``esnli`` (``premise``, ``hypothesis``, ``label`` 0
entailment / 1 neutral / 2 contradiction, ``explanation_1..3``); train is the pool, test the test.
"""

from __future__ import annotations

from typing import Any

from harness import Capability, DecodeConfig, Row, hookimpl
from harness.errors import DataError
from harness.sources import TRAIN_TEST, field, hub_pools, is_local, lines, local_dir, need
from harness_plugins.capabilities.formats import ExplainedSizes, with_explanation

LABELS = ["entailment", "neutral", "contradiction"]
SYNONYMS = {"entailment": "entailment", "entail": "entailment", "entails": "entailment",
            "entailed": "entailment", "neutral": "neutral", "contradiction": "contradiction",
            "contradict": "contradiction", "contradicts": "contradiction",
            "contradictory": "contradiction"}


class ESNLI(Capability):
    """e-SNLI inference: entailment, neutral or contradiction (explanation in target)."""

    name = "esnli"
    chance = 1 / 3
    labels = True
    version = 1
    default_source = "esnli"
    decode = DecodeConfig(max_new_tokens=96, stop=["\n"])
    Params = ExplainedSizes

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if source and is_local(source):
            root = local_dir(source, self.name)
            return self.normalise(
                {"train": [r for split in ("dev", "test") for r in local_split(root, split)]})
        raw = hub_pools(source, None, TRAIN_TEST)
        # The hub marks pairs without a gold label with -1; they cannot be scored.
        return self.normalise({s: [r for r in rows if r.get("label", 0) >= 0]
                               for s, rows in raw.items()})

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        label = LABELS[int(field(raw, "label", self.name, where))]
        premise = field(raw, "premise", self.name, where).strip()
        hypothesis = field(raw, "hypothesis", self.name, where).strip()
        explanation = (raw.get("explanation_1") or "").strip() or None
        return Row(
            id=f"esnli-{split}-{index}",
            prompt=f"Premise: {premise}\nHypothesis: {hypothesis}\n"
                   "Does the premise entail or contradict the hypothesis, or is it neutral?\n"
                   "Answer:",
            target=with_explanation(label, explanation, self.params.explanation),
            answer=label, explanation=explanation,
        )

    extract = [{"label": {"synonyms": SYNONYMS}}]

    def extraction(self) -> list:
        """With the explanation first, the label is read after its last "answer is"."""
        own = super().extraction()
        if self.params.explanation == "before" and not getattr(self.params, "extract", None):
            return [{"after_last": {"marker": "answer is"}}, *own]
        return own


def local_split(root, split: str) -> list[dict[str, Any]]:
    """The line-aligned files of one split -> hub-schema rows.

    Explanation files have no final newline and may end in an empty explanation, so columns
    are split on newlines and aligned to the labels file, not read with splitlines.
    """
    labels = lines(need(root / f"labels.{split}", "esnli"))
    n = len(labels)
    cols = {}
    for name in ("s1", "s2", "preproc1_expl_1", "preproc1_expl_2", "preproc1_expl_3"):
        pieces = need(root / f"{name}.{split}", "esnli").read_text(encoding="utf-8").split("\n")
        if len(pieces) == n + 1 and pieces[-1] == "":
            pieces.pop()
        if len(pieces) != n:
            raise DataError(f"esnli {name}.{split} has {len(pieces)} lines but labels.{split} "
                            f"has {n}: the files are not line-aligned")
        cols[name] = pieces
    cols["labels"] = labels
    out = []
    for i in range(n):
        label = cols["labels"][i].strip()
        if label not in LABELS:
            raise DataError(f"esnli labels.{split} line {i + 1}: unknown label {label!r}")
        out.append({"premise": cols["s1"][i], "hypothesis": cols["s2"][i],
                    "label": LABELS.index(label),
                    **{f"explanation_{k}": cols[f"preproc1_expl_{k}"][i] for k in (1, 2, 3)}})
    return out


@hookimpl
def register_capabilities(register):
    register(ESNLI)
