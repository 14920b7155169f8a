"""An example third-party plugin: one capability and one selector, found via entry points."""

from __future__ import annotations

import random

from pydantic import Field

from harness import Capability, DecodeConfig, Params, Row, Selector, SplitSizes, hookimpl

WORDS = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree"]


class Echo(Capability):
    """Repeat a short list of words back."""

    name = "example_echo"
    version = 1
    generated = True  # it makes its own rows: no source, and --data-dir does not apply
    decode = DecodeConfig(max_new_tokens=16)

    class Params(SplitSizes):
        # Its pool is 400 rows: the default sizes must fit it (`harness check` checks).
        labeled: int = Field(100, ge=1)
        unlabeled: int = Field(200, ge=1)
        test: int = Field(100, ge=1)

    def pools(self, source, seed):
        rng = random.Random(7)
        rows = {}
        while len(rows) < 400:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
            rows.setdefault(words, Row(id=f"echo-{len(rows)}", prompt=f"Repeat: {words}\n=>",
                                       target=f" {words}", answer=words))
        return {"train": list(rows.values())}

    def answer_of(self, row, completion):
        """The words said, in order; scoring and weak-strong agreement both read this."""
        return " ".join(completion.split()) or None

    def gold_of(self, row):
        return " ".join(row.answer.split())


class FirstFraction(Selector):
    """Keep the first fraction of the weak pool, in its given order."""

    name = "example_first"
    version = 1

    class Params(Params):
        fraction: float = Field(0.5, gt=0, le=1)

    def select(self, pool, ctx):
        return pool[: max(1, int(len(pool) * self.params.fraction))]


@hookimpl
def register_capabilities(register):
    register(Echo)


@hookimpl
def register_selectors(register):
    register(FirstFraction)
