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
import time
from pathlib import Path

from pydantic import Field

from harness import Backend, Capability, DecodeConfig, Footprint, Generation, Params, Row, \
    Trainer, hookimpl

TABLE = "fake-model.json"
HABITS = "fake-habits.json"
"""How a trained fake model answers, where not the defaults: ``vote`` and ``noise``."""
KEYS = 24
LETTERS = "abcdefgh"


def table(model: str) -> dict[str, str]:
    """What a fake model learned: prompt -> target (empty for a base model)."""
    path = Path(model) / TABLE
    return json.loads(path.read_text()) if path.is_file() else {}


def habits(model: str) -> dict:
    path = Path(model) / HABITS
    return json.loads(path.read_text()) if path.is_file() else {}


def answer(learned: dict[str, str], prompt: str, vote: bool = False) -> str:
    """The target of ``prompt`` if trained on it; else of the trained prompt sharing the most
    words with it (the first in sorted order), or with ``vote`` the most common target among
    all that share the most: a model that generalises over its labels' noise."""
    if prompt in learned:
        return learned[prompt]
    words = set(prompt.split())
    overlaps = {seen: len(words & set(seen.split())) for seen in sorted(learned)}
    most = max(overlaps.values(), default=0)
    if not most:
        return ""
    nearest = [learned[seen] for seen, n in overlaps.items() if n == most]
    if not vote:
        return nearest[0]
    counts = {t: nearest.count(t) for t in nearest}
    return max(counts, key=lambda t: (counts[t], -nearest.index(t)))


def noisy(text: str, prompt: str, rate: float) -> str:
    """``text`` with its answer letter moved on by one for a share ``rate`` of prompts (by a
    digest of the prompt): errors that fall on items at random, not on keys."""
    cut = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) / 16 ** 8
    letter = text.strip()[:1]
    if cut >= rate or letter not in LETTERS:
        return text
    return text.replace(letter, LETTERS[(LETTERS.index(letter) + 1) % len(LETTERS)], 1)


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
            value = LETTERS[key * 5 % 8]
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
    hub_models = False  # its models are JSON tables named by the suite, never loaded by name

    class Params(Params):
        memory: int = Field(0, ge=0, description="examples kept (0: all)")
        vote: bool = Field(False, description="answer an unseen prompt with the majority "
                                              "target of its nearest trained prompts")
        noise: float = Field(0.0, ge=0, le=1, description="share of prompts answered wrong")
        curve: bool = Field(False, description="log a made-up loss curve, one step per batch "
                                               "of 8, as a real trainer logs its own")
        seconds: float = Field(0.0, ge=0, description="sleep this long first: training's time "
                                                      "without its work, so a test can stop a "
                                                      "stage (or a node) while it trains")

    def footprint(self):
        """One pass in batches of 8: what its training budget counts."""
        return Footprint(epochs=1, batch_size=8)

    def train(self, base, examples, out_dir, ctx):
        time.sleep(self.params.seconds)
        learned = table(base)
        kept = sorted(examples, key=lambda e: hashlib.sha256(e.prompt.encode()).hexdigest())
        if self.params.memory:
            kept = kept[: self.params.memory]
        learned.update({e.prompt: e.target for e in kept})
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / TABLE).write_text(json.dumps(learned, sort_keys=True))
        if self.params.vote or self.params.noise:
            (out / HABITS).write_text(json.dumps({"vote": self.params.vote,
                                                  "noise": self.params.noise}))
        if self.params.curve and ctx.history is not None:
            steps = max(1, -(-len(examples) // 8))
            ctx.history.write_text("".join(
                json.dumps({"step": k, "loss": 2.0 / k, "learning_rate": 1e-3 * (1 - k / steps)})
                + "\n" for k in range(1, steps + 1)))


class FakeBackend(Backend):
    """Answers from a fake model's table; log-probabilities from whether it agrees."""

    name = "fake"
    version = 1
    hub_models = False

    def generate(self, model: str, prompts: list[str], decode: DecodeConfig) -> list[Generation]:
        learned, how = table(model), habits(model)
        out = []
        for prompt in prompts:
            text = noisy(answer(learned, prompt, how.get("vote", False)), prompt,
                         how.get("noise", 0.0))
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
