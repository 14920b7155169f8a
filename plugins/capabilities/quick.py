"""Capabilities whose data the harness generates itself, so the quick suite runs offline.

``synth_scan`` samples commands from the SCAN grammar (Lake & Baroni 2018) and interprets them
into action sequences; ``synth_arith`` writes multi-step arithmetic word problems with a
worked solution ending in ``#### <answer>``, the GSM8K convention.
"""

from __future__ import annotations

import itertools
import random

from pydantic import Field

from harness import Capability, DecodeConfig, Row, SplitSizes, hookimpl
from harness.scoring import canonical_number, to_number
from harness_plugins.capabilities.scan import ScanAnswers, scan_row

_PRIMITIVES = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
_TURN = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}


def _phrases() -> list[tuple[str, list[str]]]:
    """Every S phrase of the SCAN grammar with its meaning (the grammar has 102 of them)."""
    out = []
    for verb in [*_PRIMITIVES, "turn"]:
        act = [_PRIMITIVES[verb]] if verb in _PRIMITIVES else []
        forms = [([verb], act)] if act else []
        for side, turn in _TURN.items():
            t = [turn]
            forms += [
                ([verb, side], t + act),
                ([verb, "opposite", side], t * 2 + act),
                ([verb, "around", side], (t + act) * 4),
            ]
        for words, meaning in forms:
            for times, adverb in ((1, None), (2, "twice"), (3, "thrice")):
                out.append((" ".join(words + ([adverb] if adverb else [])), meaning * times))
    return out


PHRASES = _phrases()


def scan_example(rng: random.Random) -> tuple[str, str]:
    """A command of one phrase, or two joined by ``and`` / ``after``, and its actions."""
    left, out_left = rng.choice(PHRASES)
    conj = rng.choice([None, "and", "after"])
    if conj is None:
        return left, " ".join(out_left)
    right, out_right = rng.choice(PHRASES)
    out = out_left + out_right if conj == "and" else out_right + out_left
    return f"{left} {conj} {right}", " ".join(out)


class SynthScan(ScanAnswers):
    """SCAN commands sampled from the SCAN grammar; exact match of the action sequence."""

    name = "synth_scan"
    version = 1
    generated = True
    decode = DecodeConfig(max_new_tokens=96, stop=["\n"])

    class Params(SplitSizes):
        max_actions: int = Field(12, ge=1, description="reject commands with more actions")
        pool: int = Field(20000, ge=10, description="distinct commands to sample from")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        # The pool does not depend on the split seed: splits are drawn from one fixed pool.
        every = self._commands()
        if self.params.pool >= len(every):
            # Sampling would stop once it had them all (about 330,000 draws with the
            # defaults' 11,870 commands, seconds a data stage): the same pool, listed.
            seen = every
        else:
            rng = random.Random(1234)
            seen = {}
            attempts = 0
            while len(seen) < self.params.pool and attempts < self.params.pool * 50:
                attempts += 1
                cmd, act = scan_example(rng)
                if len(act.split()) <= self.params.max_actions:
                    seen.setdefault(cmd, act)
        rows = [scan_row(f"scan-{i}", cmd, act)
                for i, (cmd, act) in enumerate(sorted(seen.items()))]
        return {"train": rows}

    def _commands(self) -> dict[str, str]:
        """Every command ``scan_example`` can give within ``max_actions``, with its actions."""
        limit = self.params.max_actions
        out = {cmd: " ".join(act) for cmd, act in PHRASES if len(act) <= limit}
        for (left, a), (right, b) in itertools.product(PHRASES, repeat=2):
            if len(a) + len(b) <= limit:
                out[f"{left} and {right}"] = " ".join(a + b)
                out[f"{left} after {right}"] = " ".join(b + a)
        return out

    def corpus(self) -> list[str]:
        """Background text for tiny pretrained models: what each single phrase means."""
        return [f"{cmd} means {' '.join(act)}." for cmd, act in PHRASES]


_NAMES = ["Ann", "Bob", "Cy", "Dee", "Eli", "Fay", "Gus", "Ivy", "Jo", "Kim"]
_THINGS = ["apples", "pens", "cards", "shells", "coins", "books", "eggs", "stamps"]


def arith_example(rng: random.Random, steps: int, max_operand: int) -> tuple[str, str, int]:
    name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
    total = rng.randint(1, max_operand)
    story = [f"{name} has {total} {thing}."]
    work = []
    for _ in range(steps):
        n = rng.randint(1, max_operand)
        if rng.random() < 0.5 or n > total:
            story.append(f"{name} gets {n} more.")
            work.append(f"{total}+{n}={total + n}.")
            total += n
        else:
            story.append(f"{name} gives away {n}.")
            work.append(f"{total}-{n}={total - n}.")
            total -= n
    story.append(f"How many {thing} does {name} have?")
    return " ".join(story), " ".join(work) + f" #### {total}", total


class SynthArith(Capability):
    """Multi-step arithmetic word problems; the final number after ``####`` is scored."""

    name = "synth_arith"
    version = 1
    generated = True
    decode = DecodeConfig(max_new_tokens=64, stop=["\n"])
    extract = [{"number": {"mode": "flexible"}}]

    class Params(SplitSizes):
        min_steps: int = Field(1, ge=1, description="fewest operations in a problem")
        max_steps: int = Field(3, ge=1, description="most operations in a problem")
        max_operand: int = Field(9, ge=1, description="largest operand")
        pool: int = Field(20000, ge=10, description="distinct problems to sample from")

    def pools(self, source: str | None, seed: int) -> dict[str, list[Row]]:
        rng = random.Random(4321)
        seen: dict[str, tuple[str, int]] = {}
        attempts = 0
        p = self.params
        while len(seen) < p.pool and attempts < p.pool * 50:
            attempts += 1
            q, work, ans = arith_example(rng, rng.randint(p.min_steps, p.max_steps), p.max_operand)
            seen.setdefault(q, (work, ans))
        rows = [
            Row(id=f"arith-{i}", prompt=f"Q: {q}\nA:", target=f" {w}", answer=str(a))
            for i, (q, (w, a)) in enumerate(sorted(seen.items()))
        ]
        return {"train": rows}

    def gold_of(self, row: Row) -> str:
        return canonical_number(to_number(row.answer)) or row.answer

    def corpus(self) -> list[str]:
        """Background text for tiny pretrained models: the sums and differences used here."""
        top = self.params.max_operand * (self.params.max_steps + 1)
        b_range = range(1, self.params.max_operand + 1)
        return [f"{a}+{b}={a + b}." for a in range(top + 1) for b in b_range] + [
            f"{a}-{b}={a - b}." for a in range(top + 1) for b in b_range if b <= a
        ]


@hookimpl
def register_capabilities(register):
    register(SynthScan)
    register(SynthArith)
