"""Generated fact capabilities: the CPU testbed, where a weak model's labels can elicit what a
strong model already knows but cannot yet say.

A real LLM already holds much of what weak labels teach it: pretraining put the knowledge
there, and fine-tuning teaches the task's format and elicits it. These capabilities rebuild
that on a CPU with the ``testbed-weak`` and ``testbed-strong`` models (``harness.tinymodels``):

- Each capability has background text (``corpus()``) stating its facts plainly ("the sum of 3
  and 4 is 7.", "mavo lives in oslo."); the models are pretrained on it, a few sentences to a
  line, so a fact is recalled amid other text. The strong model reads all of it; the weak one,
  smaller, a seeded share, so its errors fall on facts the strong model knows.
- A question asks in another wording, then starts the answer in the text's wording ("q: what
  is 3 plus 4? a: the sum of 3 and 4 is"), as one primes an LLM's answer: the tiny models did
  not carry a fact across wordings without that (see ``bench/testbed.py``).
- **The answer is asked in a code that no pretraining line uses**: a sum's digits as words
  (" one seven" for 17), a city's code name (" elm" for lima). The untuned model
  completes "the sum of 3 and 4 is" with " 7"; fine-tuning has to teach the code, and the
  facts behind it have to come from the model. That is meant to put the ceiling far above the
  untuned strong model (the README's testbed section has the measured figures), so weak
  labels beat both only if the student learns the code from them without their wrong facts.
- Bridge facts, never asked, appear in the text in both wordings with plain answers: that is
  where the models meet the question words at all, as an LLM meets question-answer text in
  pretraining. No test prompt is a pretraining sentence, and no pretraining line holds a code.
"""

from __future__ import annotations

import random

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl

_SYLLABLES = ["ba", "ko", "mi", "ru", "ten", "vo", "sa", "li", "de", "pu", "no", "gar"]
CITIES = ["oslo", "lima", "rome", "kyiv", "doha", "bern", "riga", "baku"]
CITY_CODES = dict(zip(CITIES, ["ash", "elm", "oak", "fir", "yew", "box", "bay", "fig"]))
"""The answer fact_city asks for: a code name per city, in no pretraining line."""
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spelled(number: int) -> str:
    """The answer fact_sum asks for: the digits as words, 17 -> "one seven"."""
    return " ".join(DIGITS[int(d)] for d in str(number))


class FactSum(Capability):
    """Sums of two numbers (recalled from the text), answered with the digits as words."""

    name = "fact_sum"
    version = 2
    generated = True
    chance = 1 / 39
    """A guess among the 39 sums 0 .. 38 of the default operands."""
    decode = DecodeConfig(max_new_tokens=8, stop=["\n", "."])
    extract = ["match"]

    class Params(SplitSizes):
        operands: int = Field(20, ge=2, description="the questions' operands are 0 .. operands-1")
        bridge: int = Field(5, ge=0, description="first operands from `operands` on, this many, "
                                                 "make bridge facts: in the text, never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        n = self.params.operands
        return {"train": [Row(id=f"sum-{a}-{b}", prompt=sum_question(a, b),
                              target=f" {spelled(a + b)}", answer=spelled(a + b))
                          for a in range(n) for b in range(n)]}

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
    """Where made-up people live (recalled from the text), answered with the city's code."""

    name = "fact_city"
    version = 2
    generated = True
    chance = 1 / len(CITIES)
    decode = DecodeConfig(max_new_tokens=6, stop=["\n", "."])
    extract = ["match"]

    class Params(SplitSizes):
        people: int = Field(300, ge=10, description="how many people the questions are about")
        bridge: int = Field(60, ge=0, description="more people, whose facts are in the text in "
                                                  "both wordings and never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        asked = people(self.params.people + self.params.bridge)[:self.params.people]
        return {"train": [Row(id=f"city-{name}", prompt=city_question(name),
                              target=f" {CITY_CODES[city]}", answer=CITY_CODES[city])
                          for name, city in asked]}

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
