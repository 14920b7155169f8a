"""Generated fact capabilities: the CPU testbed where weak-to-strong generalization is real.

A real LLM already holds most of what weak labels teach it: pretraining put it there, and
fine-tuning elicits it. These capabilities rebuild that on a CPU with the ``testbed-weak`` and
``testbed-strong`` models (``harness.tinymodels``):

- Each capability has background text (``corpus()``) stating its facts plainly ("the sum of 3
  and 4 is 7.", "mavo lives in oslo."); the models are pretrained on it, a few sentences to a
  line, so a fact is recalled amid other text. The strong model reads all of it; the weak one,
  smaller, a seeded share, so its errors fall on facts the strong model knows.
- A question asks in another wording, then starts the answer in the text's wording ("q: what
  is 3 plus 4? a: the sum of 3 and 4 is"), as one primes an LLM's answer. The tiny models did
  not carry a fact across wordings without that (the ceiling stayed under 0.1; see
  ``bench/testbed.py``).
- Bridge facts, never asked, appear in the text in both wordings: that is where the models
  meet the question words at all, as an LLM meets question-answer text in pretraining.
"""

from __future__ import annotations

import random

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl

_SYLLABLES = ["ba", "ko", "mi", "ru", "ten", "vo", "sa", "li", "de", "pu", "no", "gar"]
CITIES = ["oslo", "lima", "rome", "kyiv", "doha", "bern", "riga", "baku"]


class FactSum(Capability):
    """Sums of two numbers, asked as "q: sum of a and b? a:"; the number is scored."""

    name = "fact_sum"
    version = 1
    generated = True
    decode = DecodeConfig(max_new_tokens=8, stop=["\n", "."])
    extract = [{"number": {"mode": "flexible"}}]

    class Params(SplitSizes):
        operands: int = Field(20, ge=2, description="the questions' operands are 0 .. operands-1")
        bridge: int = Field(5, ge=0, description="first operands from `operands` on, this many, "
                                                 "make bridge facts: in the text, never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        n = self.params.operands
        return {"train": [Row(id=f"sum-{a}-{b}", prompt=sum_question(a, b), target=f" {a + b}",
                              answer=str(a + b)) for a in range(n) for b in range(n)]}

    def corpus(self) -> list[str]:
        n = self.params.operands
        bridge = range(n, n + self.params.bridge)
        return [f"the sum of {a} and {b} is {a + b}." for a in [*range(n), *bridge]
                for b in range(n)] + [f"{sum_question(a, b)} {a + b}." for a in bridge
                                      for b in range(n)]


def sum_question(a: int, b: int) -> str:
    return f"q: what is {a} plus {b}? a: the sum of {a} and {b} is"


def people(n: int) -> list[tuple[str, str]]:
    """``n`` made-up names, each with the city it lives in (fixed by a seed)."""
    rng = random.Random(99)
    names: dict[str, str] = {}
    while len(names) < n:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3))))
        names.setdefault(name, rng.choice(CITIES))
    return list(names.items())


class FactCity(Capability):
    """Where made-up people live, asked as "q: where does x live? a:"; exact city."""

    name = "fact_city"
    version = 1
    generated = True
    decode = DecodeConfig(max_new_tokens=6, stop=["\n", "."])
    extract = ["match"]

    class Params(SplitSizes):
        people: int = Field(300, ge=10, description="how many people the questions are about")
        bridge: int = Field(60, ge=0, description="more people, whose facts are in the text in "
                                                  "both wordings and never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        asked = people(self.params.people + self.params.bridge)[:self.params.people]
        return {"train": [Row(id=f"city-{name}", prompt=city_question(name), target=f" {city}",
                              answer=city) for name, city in asked]}

    def corpus(self) -> list[str]:
        everyone = people(self.params.people + self.params.bridge)
        return [f"{name} lives in {city}." for name, city in everyone] + \
            [f"{city_question(name)} {city}." for name, city in everyone[self.params.people:]]


def city_question(name: str) -> str:
    return f"q: where does {name} live? a: {name} lives in"


@hookimpl
def register_capabilities(register):
    register(FactSum)
    register(FactCity)
