"""Prompt and target formats shared by the paper's capabilities.

Every capability is posed as generation. Multiple-choice questions list lettered options and
the model answers with the letter and option text (or, with ``target: text``, the text alone); explainable tasks put the gold explanation
after the answer by default (``explanation: after``), so the answer is read from the start and
the explanation is still trained on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes
from harness.scoring import LETTERS, Conflict


class ExplainedSizes(SplitSizes):
    explanation: Literal["after", "before", "none"] = "after"
    """Where the gold explanation goes in the target: after the answer, before it, or nowhere."""


class ChoiceSizes(SplitSizes):
    target: Literal["letter", "text"] = Field(
        "letter", description="the gold answer trained on: letter = '(B) paris' (the default), "
                              "text = the option's text alone (' paris'), which a small model "
                              "can copy from the prompt without mapping it to a letter")
    conflict: Conflict = Field(
        "none", description="a letter followed by another option's exact text ('(B) paris', "
                            "paris being A): none = no answer (default; crediting either half "
                            "would reward a guess), letter, or text")


class ExplainedChoiceSizes(ExplainedSizes, ChoiceSizes):
    pass


def with_explanation(answer: str, explanation: str | None, placement: str) -> str:
    """The target text: the answer alone, or with the explanation before or after it."""
    if not explanation or placement == "none":
        return f" {answer}"
    explanation = " ".join(explanation.split())
    if placement == "before":
        return f" {explanation} So the answer is {answer}"
    return f" {answer}. Explanation: {explanation}"


def mc_prompt(question: str, choices: list[str], context: str | None = None) -> str:
    options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))
    head = f"{context.strip()}\n" if context else ""
    return f"{head}Question: {question.strip()}\n{options}\nAnswer:"


def mc_answer(choices: list[str], index: int, form: str = "letter") -> str:
    return choices[index] if form == "text" else f"({LETTERS[index]}) {choices[index]}"


class MultipleChoice(Capability):
    """Base: the completion's chosen option (by letter or text) must be the gold option."""

    decode = DecodeConfig(max_new_tokens=32, stop=["\n"])
    Params = ChoiceSizes

    def mc_row(self, id: str, question: str, choices: list[str], gold: int,
               explanation: str | None = None, context: str | None = None,
               placement: str = "none", meta: dict | None = None) -> Row:
        return Row(
            id=id, prompt=mc_prompt(question, choices, context),
            target=with_explanation(mc_answer(choices, gold, self.params.target), explanation,
                                    placement),
            answer=choices[gold], choices=choices, explanation=explanation,
            meta={"label_index": gold, **(meta or {})},
        )

    def extraction(self) -> list:
        return super().extraction() or [{"option": {"conflict": self.params.conflict}}]

    def gold_of(self, row: Row) -> str:
        return LETTERS[row.meta["label_index"]]

    def wrong_targets(self, row: Row, targets: dict[str, str]) -> dict[str, str]:
        """The item's other options, each as its target would give it (no explanation)."""
        choices = row.choices or []
        return {LETTERS[i]: f" {mc_answer(choices, i, self.params.target)}"
                for i in range(len(choices)) if i != row.meta["label_index"]}
