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
- **The answer is asked in a code that no pretraining line pairs with its fact**: a sum's
  digits each shifted by 3 (" 40" for 17), a city's code, the next city of a fixed list
  (" rome" for lima). The codes are words the models have read (digits, city names), so
  fine-tuning only has to learn a relabelling of outputs they already make. The untuned model
  completes "the sum of 3 and 4 is" with " 7"; fine-tuning has to teach the code, and the
  facts behind it have to come from the model. That is meant to put the ceiling far above the
  untuned strong model (the README's testbed section has the measured figures), so weak
  labels beat both only if the student learns the code from them without their wrong facts.
- Bridge facts, never asked, appear in the text in both wordings with plain answers: that is
  where the models meet the question words at all, as an LLM meets question-answer text in
  pretraining. No test prompt is a pretraining sentence, and no pretraining line states a fact
  with its code.
"""

from __future__ import annotations

import random

from typing import Literal

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl

_SYLLABLES = ["ba", "ko", "mi", "ru", "ten", "vo", "sa", "li", "de", "pu", "no", "gar"]
CITIES = ["oslo", "lima", "rome", "kyiv", "doha", "bern", "riga", "baku"]
Answer = Literal["relabel", "new_words", "plain"]
ANSWER_HELP = ("how the answer is asked: relabel (a fixed relabelling among words the models "
               "read: the testbed's design), new_words (words no pretraining line uses), plain "
               "(the text's own answer: the untuned model recites it)")
TREES = ["ash", "elm", "oak", "fir", "yew", "box", "bay", "fig"]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CITY_CODES = dict(zip(CITIES, CITIES[1:] + CITIES[:1]))
"""The answer fact_city asks for: each city's code is the next city of the list (oslo -> lima),
so no city is its own code and every code is a word the models have read."""
DIGIT_SHIFT = 3
"""The answer fact_sum asks for: each digit of the sum shifted by this much, mod 10 (17 ->
40), so no digit is its own code."""


def sum_answer(number: int, answer: Answer) -> str:
    """A sum as fact_sum asks for it: relabel 17 -> "40", new_words "one seven", plain "17"."""
    if answer == "plain":
        return str(number)
    if answer == "new_words":
        return " ".join(DIGIT_WORDS[int(d)] for d in str(number))
    return "".join(str((int(d) + DIGIT_SHIFT) % 10) for d in str(number))


def city_answer(city: str, answer: Answer) -> str:
    """A city as fact_city asks for it: relabel lima -> "rome", new_words "elm", plain "lima"."""
    if answer == "plain":
        return city
    return TREES[CITIES.index(city)] if answer == "new_words" else CITY_CODES[city]


class FactSum(Capability):
    """Sums of two numbers (recalled from the text), answered in a digit code."""

    name = "fact_sum"
    version = 2
    generated = True
    chance = 1 / 39
    labels = True
    """A guess among the 39 sums 0 .. 38 of the default operands."""
    decode = DecodeConfig(max_new_tokens=8, stop=["\n", "."])
    extract = ["match"]

    class Params(SplitSizes):
        # The pool is operands**2 questions (400 by default): the defaults use it all.
        labeled: int = Field(60, ge=1)
        unlabeled: int = Field(190, ge=1)
        test: int = Field(150, ge=1)
        answer: Answer = Field("relabel", description=ANSWER_HELP)
        operands: int = Field(20, ge=2, description="the questions' operands are 0 .. operands-1")
        bridge: int = Field(5, ge=0, description="first operands from `operands` on, this many, "
                                                 "make bridge facts: in the text, never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        n = self.params.operands
        return {"train": [Row(id=f"sum-{a}-{b}", prompt=sum_question(a, b),
                              target=f" {sum_answer(a + b, self.params.answer)}",
                              answer=sum_answer(a + b, self.params.answer))
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
    labels = True
    decode = DecodeConfig(max_new_tokens=6, stop=["\n", "."])
    extract = ["match"]

    class Params(SplitSizes):
        # The pool is one question a person (300 by default): the defaults use it all.
        labeled: int = Field(50, ge=1)
        unlabeled: int = Field(130, ge=1)
        test: int = Field(120, ge=1)
        answer: Answer = Field("relabel", description=ANSWER_HELP)
        people: int = Field(300, ge=10, description="how many people the questions are about")
        bridge: int = Field(60, ge=0, description="more people, whose facts are in the text in "
                                                  "both wordings and never asked")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        asked = people(self.params.people + self.params.bridge)[:self.params.people]
        return {"train": [Row(id=f"city-{name}", prompt=city_question(name),
                              target=f" {city_answer(city, self.params.answer)}",
                              answer=city_answer(city, self.params.answer))
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
