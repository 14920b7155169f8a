"""Which of a suite's methods play which part in the paper's findings, and whether a control
trains as much as the method it controls.

Methods are recognised by what they are, not by their names: naive W2S is the ``all`` selector
with the suite's own trainer and its parameters (sft stopped early, say, is another method); the
paper's method is the ``reward_model`` selector through
``two_stage``; ``random`` through ``two_stage`` controls its selection; ``all`` through
``two_stage`` (every weak label, trained on again) controls for extra training alone, for the
paper's method and for self-bootstrapping (the ``self_bootstrap`` trainer) alike.

A control is **compute-matched** when, summed over its training runs, it takes as many
optimizer steps over as many examples (epochs x examples) as the method, within ``TOLERANCE``
(partial batches round differently). Extra training alone moves W2S, so a finding rests only on
matched controls: the planner refuses a suite whose controls cannot match (``check``), and the
findings read each arm's budget from the run's record and say "not measured" where they differ.
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel

from harness.errors import HarnessError
from harness.footprint import Footprint
from harness.schemas import Suite

TOLERANCE = 0.05
"""Largest relative difference in steps or examples that still counts as matched."""

TESTED = {4: ("self-bootstrap", ["all-again"]),
          5: ("rm-two-stage", ["random-two-stage", "all-again"])}
"""Finding -> the method it tests and the control roles it rests on."""


class Budget(BaseModel):
    """What a method's training runs add up to: examples seen (epochs x examples) and
    optimizer steps."""

    examples: float
    steps: int

    @classmethod
    def of(cls, runs: list[tuple[int, Footprint | None]]) -> Budget | None:
        """The budget of training runs, each (examples it trains on, its shape); None where a
        run's trainer declares no shape."""
        examples, steps = 0.0, 0
        for n, fp in runs:
            if fp is None:
                return None
            taken = fp.max_steps or ceil(fp.epochs * ceil(n / fp.batch_size))
            steps += taken
            examples += taken * fp.batch_size if fp.max_steps else fp.epochs * n
        return cls(examples=examples, steps=steps)

    def matches(self, other: Budget) -> bool:
        return all(abs(a - b) <= TOLERANCE * max(a, b) for a, b in
                   ((self.examples, other.examples), (self.steps, other.steps)))

    def __str__(self) -> str:
        return f"{self.examples:.0f} examples in {self.steps} steps"


def role(suite: Suite, method: str) -> str | None:
    """The part ``method`` plays in the findings (see the module docstring), or None. A
    method with a supervisor of its own plays none: the findings compare methods trained on
    one supervisor's labels (the suite's)."""
    m = next(m for m in suite.methods if m.name == method)
    if m.supervisor is not None and m.supervisor != suite.supervisor:
        return None
    selector, trainer = m.selector.name, suite.method_trainer(m).name
    if trainer == "self_bootstrap":
        return "self-bootstrap"
    if selector == "all" and trainer != "two_stage":
        return "naive" if suite.method_trainer(m) == suite.train else None
    return {("all", "two_stage"): "all-again", ("reward_model", "two_stage"): "rm-two-stage",
            ("random", "two_stage"): "random-two-stage"}.get((selector, trainer))


def roles(suite: Suite) -> dict[str, list[str]]:
    """Role -> the suite's methods in it, in suite order."""
    out: dict[str, list[str]] = {}
    for m in suite.methods:
        r = role(suite, m.name)
        if r:
            out.setdefault(r, []).append(m.name)
    return out


def matched(candidates: list[str], budgets: dict[str, Budget], method: str) -> str | None:
    """The first of ``candidates`` whose budget matches ``method``'s, or None."""
    return next((c for c in candidates if c in budgets and method in budgets
                 and budgets[c].matches(budgets[method])), None)


def check(suite: Suite, budgets: dict[str, Budget], where: str) -> None:
    """Refuse a suite with a finding's method and controls of its kind of which none trains as
    much as the method (``budgets``: each method's, as planned for the group ``where``; a
    method whose trainer declares no shape has none, and is not checked)."""
    have = roles(suite)
    for number, (tested, controls) in TESTED.items():
        for method in have.get(tested, []):
            if method not in budgets:
                continue
            for control in controls:
                candidates = have.get(control, [])
                if candidates and not matched(candidates, budgets, method):
                    shown = "; ".join(f"{c}: {budgets.get(c, 'no budget')}" for c in candidates)
                    raise HarnessError(
                        f"{where}: finding {number} compares {method} ({budgets[method]}) with "
                        f"its {control} controls, and none matches it ({shown}); give a control "
                        "the same examples and steps (e.g. its stage2 epochs), or drop it")
