"""The built-in supervisors: the suite's weak model (the default), and simulated labels with a
known accuracy and a known error structure.

Simulated supervisors are the instrument's controls. With ``random`` errors a student that
learns the task rather than its labels should beat its supervisor (the positive control);
with ``systematic`` errors, a rule the student can learn from the input, it should copy them
(the negative control). Both also give the paper's clean-versus-noisy weak data analysis at
an accuracy that is set, not found.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

from pydantic import Field

from harness import Capability, Params, Row, Supervisor, hookimpl


class ModelSupervisor(Supervisor):
    """The suite's weak model, fine-tuned on the labeled split's gold, labels by greedy decoding."""

    name = "model"
    model = True


class SimulatedParams(Params):
    q: float = Field(0.7, gt=0, lt=1, description="the share of labels that are right")
    errors: Literal["random", "systematic"] = Field(
        "random", description="random: each label right with probability q, else a wrong "
        "answer drawn from the item's candidates; systematic: a rule on the input decides the "
        "errors (see `rule`), at the same overall accuracy")
    rule: Literal["class", "length"] = Field(
        "class", description="the systematic rule: class = whole gold classes relabelled as "
        "the next class of a seeded order, the last one on its longest prompts only (for "
        "capabilities with a label set); length = the longest prompts all labelled with one "
        "fixed answer (for free text, where every item has its own gold)")


class Simulated(Supervisor):
    """Labels with a known accuracy q and a known error structure (random or systematic)."""

    name = "simulated"
    Params = SimulatedParams

    def label(self, capability: Capability, rows: list[Row], splits: dict[str, list[Row]],
              seed: int) -> list[str]:
        pool = [r for split in splits.values() for r in split]
        targets: dict[str, str] = {}
        for r in pool:
            targets.setdefault(capability.gold_of(r), r.target)
        if self.params.errors == "random":
            return [self._random(capability, r, targets, seed) for r in rows]
        wrong, relabel = systematic_rule(capability, pool, self.params.q, self.params.rule,
                                         seed)
        out = []
        for r in rows:
            if r.id not in wrong:
                out.append(r.target)
                continue
            others = capability.wrong_targets(r, targets)
            out.append(others.get(relabel[capability.gold_of(r)]) or others[min(others)])
        return out

    def _random(self, capability: Capability, row: Row, targets: dict[str, str],
                seed: int) -> str:
        rng = random.Random(f"{seed}:{row.id}")  # per item: a label never depends on others
        others = capability.wrong_targets(row, targets)
        if rng.random() < self.params.q or not others:
            return row.target
        return others[rng.choice(sorted(others))]


def _order(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def systematic_rule(capability: Capability, pool: list[Row], q: float,
                    rule: Literal["class", "length"], seed: int
                    ) -> tuple[set[str], dict[str, str]]:
    """The ids a systematic supervisor gets wrong, and the answer each gold answer is
    relabelled as, so that ``1 - q`` of the pool is wrong. ``class``: gold classes in a seeded
    order, each relabelled as the next class of that order, the last one taken only on its
    longest prompts. ``length``: the longest prompts, each relabelled as one fixed answer (the
    first class of the order; the second for that class's own items). Prompts of one length
    are taken in alphabetical order. Either way, whether an item is wrong and what it is
    called follow from its gold answer and its prompt: a rule a student can learn from the
    input."""
    classes: dict[str, list[Row]] = {}
    for r in pool:
        classes.setdefault(capability.gold_of(r), []).append(r)
    order = sorted(classes, key=lambda a: _order(seed, a))
    todo = round((1 - q) * len(pool))
    if rule == "length":
        fixed = {a: order[1] if a == order[0] and len(order) > 1 else order[0] for a in order}
        longest = sorted(pool, key=lambda r: (-len(r.prompt), r.prompt))[:todo]
        return {r.id for r in longest}, fixed
    relabel = {a: order[(i + 1) % len(order)] for i, a in enumerate(order)}
    wrong: set[str] = set()
    for a in order:
        if todo <= 0:
            break
        members = sorted(classes[a], key=lambda r: (-len(r.prompt), r.prompt))[:todo]
        wrong |= {r.id for r in members}
        todo -= len(members)
    return wrong, relabel


@hookimpl
def register_supervisors(register):
    register(ModelSupervisor)
    register(Simulated)
