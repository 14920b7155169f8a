"""CREAK (Onoe et al. 2021): commonsense claims about entities, true or false.

Local layout (``<dir>/creak/``) as in yasumasaonoe/creak: ``train.json`` and ``dev.json``, JSON
Lines despite the extension, with ``ex_id``, ``sentence``, ``explanation``, ``label``
("true"/"false"); the test file has no labels, so ``dev`` serves as the test pool.
The authors published no hub dataset; the default source is the community copy
``amydeng2000/CREAK`` of their files (same fields; its split names ``train`` and ``validation``
are not verified here), and any hub copy with those fields can be named as ``source``.
"""

from __future__ import annotations

from typing import Any

from harness import Capability, DecodeConfig, Row, hookimpl
from harness.errors import DataError
from harness.sources import field, hub_pools, is_local, jsonl, local_dir, need
from harness_plugins.capabilities.formats import ExplainedSizes, with_explanation

SYNONYMS = {"true": "true", "false": "false", "yes": "true", "no": "false",
            "correct": "true", "incorrect": "false"}


class Creak(Capability):
    """CREAK claims, true or false (paper's fact-checking capability)."""

    name = "creak"
    chance = 0.5
    labels = True
    version = 1
    default_source = "amydeng2000/CREAK"
    decode = DecodeConfig(max_new_tokens=64, stop=["\n"])

    class Params(ExplainedSizes):
        explanation: str = "none"  # type: ignore[assignment]

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        if is_local(source):
            root = local_dir(source, self.name)
            raw = {"train": list(jsonl(need(root / "train.json", self.name))),
                   "test": list(jsonl(need(root / "dev.json", self.name)))}
        else:
            raw = hub_pools(source, None, {"train": ("train",), "test": ("validation",)})
        return self.normalise(raw)

    def from_hub(self, raw: dict[str, Any], split: str, index: int) -> Row:
        where = f"{split}:{index}"
        label = str(field(raw, "label", self.name, where)).lower()
        if label not in ("true", "false"):
            raise DataError(f"creak: row {where} has label {label!r}, expected true or false")
        explanation = raw.get("explanation")
        return Row(
            id=str(raw.get("ex_id") or f"creak-{split}-{index}"),
            prompt=f"Claim: {field(raw, 'sentence', self.name, where).strip()}\n"
                   "Is this claim true or false?\nAnswer:",
            target=with_explanation(label, explanation, self.params.explanation),
            answer=label, explanation=explanation,
            meta={"entity": raw.get("entity")},
        )

    extract = [{"label": {"synonyms": SYNONYMS}}]


@hookimpl
def register_capabilities(register):
    register(Creak)
