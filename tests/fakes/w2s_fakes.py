"""A deterministic, torch-free backend and trainer, so the harness's own logic (planning,
scheduling, caching, faults, collecting) runs end to end in seconds.

Registered through the ``harness`` entry point like any third-party plugin (the dist-info
beside this file; ``tests/conftest.py`` puts this folder on the path), never shipped in the
product. A "model" is a base name (``fake-weak``, ``fake-strong``: untuned, they answer
nothing) or a folder the ``fake`` trainer wrote: a table of the prompts it trained on and
their targets. The ``fake`` backend answers a prompt it has seen with its target, and any
other with the target of the trained prompt that shares the most words with it (ties to the
first in sorted order), so a model trained on better labels scores better, as a real one would.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from pydantic import Field

from harness import Backend, Capability, DecodeConfig, Footprint, Generation, Params, Row, \
    Trainer, hookimpl

TABLE = "fake-model.json"
KEYS = 24


def table(model: str) -> dict[str, str]:
    """What a fake model learned: prompt -> target (empty for a base model)."""
    path = Path(model) / TABLE
    return json.loads(path.read_text()) if path.is_file() else {}


def answer(learned: dict[str, str], prompt: str) -> str:
    if prompt in learned:
        return learned[prompt]
    words = set(prompt.split())
    best, overlap = "", 0
    for seen in sorted(learned):
        shared = len(words & set(seen.split()))
        if shared > overlap:
            best, overlap = learned[seen], shared
    return best


class Lookup(Capability):
    """Recall a key's value. Every prompt is new (a serial number), but its key recurs, so the
    ``fake`` model answers it right when it trained on a right answer for the same key."""

    name = "fake_lookup"
    version = 1
    generated = True
    chance = 1 / 8
    decode = DecodeConfig(max_new_tokens=4)

    def pools(self, source, seed):
        rng = random.Random(3)
        rows = []
        for i in range(600):
            key = rng.randrange(KEYS)
            value = "abcdefgh"[key * 5 % 8]
            rows.append(Row(id=f"lookup-{i}", prompt=f"#{i} key k{key} ->", target=f" {value}",
                            answer=value))
        return {"train": rows}

    def answer_of(self, row, completion):
        return completion.strip()[:1] or None

    def gold_of(self, row):
        return row.answer


class FakeTrainer(Trainer):
    """Memorises its examples (``memory`` of them, chosen by a digest of the prompt; 0: all),
    over what its base model learned."""

    name = "fake"
    version = 1

    class Params(Params):
        memory: int = Field(0, ge=0, description="examples kept (0: all)")

    def footprint(self):
        """One pass in batches of 8: what its training budget counts."""
        return Footprint(epochs=1, batch_size=8)

    def train(self, base, examples, out_dir, ctx):
        learned = table(base)
        kept = sorted(examples, key=lambda e: hashlib.sha256(e.prompt.encode()).hexdigest())
        if self.params.memory:
            kept = kept[: self.params.memory]
        learned.update({e.prompt: e.target for e in kept})
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / TABLE).write_text(json.dumps(learned, sort_keys=True))


class FakeBackend(Backend):
    """Answers from a fake model's table; log-probabilities from whether it agrees."""

    name = "fake"
    version = 1

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        learned = table(model)
        out = []
        for prompt in prompts:
            text = answer(learned, prompt)
            cut = [text.find(s) for s in decode.stop if s and s in text]
            end = min(cut) if cut else len(text)
            out.append(Generation(text=text[:end],
                                  stop=next((s for s in decode.stop if s and text.find(s) == end),
                                            None)))
        return out

    def logprobs(self, model, prompts, completions, batch_size=32):
        learned = table(model)
        return [-0.1 if answer(learned, p) == c else -1.0 - len(c) % 5 / 4
                for p, c in zip(prompts, completions)]


@hookimpl
def register_capabilities(register):
    register(Lookup)


@hookimpl
def register_trainers(register):
    register(FakeTrainer)


@hookimpl
def register_backends(register):
    register(FakeBackend)
