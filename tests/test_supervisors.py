"""Supervisors (issue 32): the weak side as a plugin kind. A simulated supervisor's labels have
the accuracy it is given and the error structure it names; each check below is shown failing
on a deliberately broken supervisor."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest

from harness import Row, Supervisor
from harness.plugins import registry

Z99 = NormalDist().inv_cdf(0.995)


def lookup(n: int = 300) -> tuple[object, list[Row]]:
    """fact_city's rows (8 answer classes), n of them (ids and prompts unique)."""
    cap = registry().make("capabilities", "fact_city", {"labeled": 50, "unlabeled": 130,
                                                          "test": 120})
    rows = cap.pools(None, 0)["train"]
    return cap, rows[:n]


def accuracy(cap, rows: list[Row], labels: list[str]) -> float:
    return sum(cap.score(r, t) for r, t in zip(rows, labels)) / len(rows)


def within_binomial(q: float, got: float, n: int) -> bool:
    return abs(got - q) <= Z99 * math.sqrt(q * (1 - q) / n)


class Drifting(Supervisor):
    """Broken on purpose: right 0.15 less often than its q says."""

    name = "drifting"

    def __init__(self, q: float) -> None:
        super().__init__()
        self.q = q

    def label(self, capability, rows, splits, seed):
        sim = registry().make("supervisors", "simulated", {"q": self.q - 0.15})
        return sim.label(capability, rows, splits, seed)


@pytest.mark.parametrize("q", [0.3, 0.55, 0.8])
def test_a_random_supervisor_is_right_at_its_q(q):
    cap, rows = lookup()
    sim = registry().make("supervisors", "simulated", {"q": q, "errors": "random"})
    labels = sim.label(cap, rows, {"test": rows}, seed=0)
    assert within_binomial(q, accuracy(cap, rows, labels), len(rows))
    assert labels == sim.label(cap, rows, {"test": rows}, seed=0)  # seeded
    assert labels != sim.label(cap, rows, {"test": rows}, seed=1)
    # Its errors are real answers of the capability (another class's target), never empty.
    assert {t for t in labels} <= {r.target for r in rows}
    # The check fails a supervisor whose error rate drifts from 1 - q.
    broken = Drifting(q)
    assert not within_binomial(q, accuracy(cap, rows, broken.label(cap, rows, {"test": rows}, 0)),
                               len(rows))


def errors_by_rule(cap, train: list[Row], train_labels: list[str], test: list[Row],
                   by_class: bool) -> list[bool]:
    """Predict which test items a supervisor gets wrong from a rule learned on other items'
    labels, reading only the input side: per gold class (which the input determines) or over
    all items, those whose prompts sort before the last wrong one seen, longest first (then
    alphabetically), or none."""
    def key(r: Row) -> tuple[int, str]:
        return -len(r.prompt), r.prompt

    seen: dict[str, list[tuple[tuple[int, str], bool]]] = {}
    for r, t in zip(train, train_labels):
        seen.setdefault(cap.gold_of(r) if by_class else "", []).append(
            (key(r), not cap.score(r, t)))
    out = []
    for r in test:
        wrong = [k for k, w in seen.get(cap.gold_of(r) if by_class else "", []) if w]
        out.append(bool(wrong) and key(r) <= max(wrong))
    return out


@pytest.mark.parametrize("rule", ["class", "length"])
def test_a_systematic_supervisor_errs_by_a_rule_learnable_from_the_input(rule):
    cap, rows = lookup()
    train, test = rows[:150], rows[150:]
    q = 0.6

    def predicted(errors: str) -> float:
        sim = registry().make("supervisors", "simulated", {"q": q, "errors": errors,
                                                              "rule": rule})
        labels = sim.label(cap, rows, {"test": rows}, seed=0)
        actual = [not cap.score(r, t) for r, t in zip(test, labels[150:])]
        guess = errors_by_rule(cap, train, labels[:150], test, by_class=rule == "class")
        assert within_binomial(q, accuracy(cap, test, labels[150:]), len(test))
        return sum(a == g for a, g in zip(actual, guess)) / len(test)

    assert predicted("systematic") >= 0.97
    # The same check fails random errors at the same accuracy: they follow no rule.
    assert predicted("random") < 0.75


def test_a_systematic_supervisor_relabels_each_class_as_one_other():
    cap, rows = lookup()
    sim = registry().make("supervisors", "simulated", {"q": 0.6, "errors": "systematic"})
    labels = sim.label(cap, rows, {"test": rows}, seed=0)
    said: dict[str, set[str]] = {}
    for r, t in zip(rows, labels):
        if not cap.score(r, t):
            said.setdefault(cap.gold_of(r), set()).add(cap.answer_of(r, t))
    assert said and all(len(v) == 1 for v in said.values()), said


@pytest.mark.parametrize("errors", ["random", "systematic"])
def test_multiple_choice_errors_are_the_items_own_other_options(errors):
    cap = registry().make("capabilities", "sciq")
    rows = [cap.mc_row(f"q{i}", f"question {i}?", [f"a{i}", f"b{i}", f"c{i}", f"d{i}"], i % 4)
            for i in range(200)]
    sim = registry().make("supervisors", "simulated", {"q": 0.5, "errors": errors})
    labels = sim.label(cap, rows, {"test": rows}, seed=0)
    wrong = [(r, t) for r, t in zip(rows, labels) if not cap.score(r, t)]
    assert 60 < len(wrong) < 140
    for r, t in wrong:  # another option of the same item, as the capability reads it
        assert cap.answer_of(r, t) in {"A", "B", "C", "D"} - {cap.gold_of(r)}
        assert any(t.strip().endswith(c) for c in r.choices), t


def test_a_method_with_its_own_supervisor_plays_no_part_in_the_papers_findings():
    """The findings compare methods trained on one supervisor's labels: a control arm with
    its own supervisor (the ``controls`` suite's) is never taken for naive W2S."""
    from harness.controls import roles
    from harness.schemas import Suite

    suite = Suite.model_validate({
        "name": "s", "weak": "tiny-weak", "strong": "tiny-strong",
        "capabilities": [{"name": "synth_scan"}],
        "methods": [{"name": "arm", "supervisor": {"name": "simulated", "params": {"q": 0.5}}},
                    {"name": "naive"}]})
    assert roles(suite) == {"naive": ["naive"]}
    assert "naive" not in roles(suite.model_copy(update={"methods": suite.methods[:1]}))


def test_the_tfidf_supervisor_learns_surface_cues_from_the_labeled_split_alone():
    """A classical text classifier (issue 33's supervisor from another model family): trained
    on ``labeled`` only, it labels new items by the words that went with each label there.
    Labeled items whose gold is swapped teach it the swap: it reads the labeled split's gold
    and nothing else."""
    pytest.importorskip("sklearn", reason="the tfidf supervisor needs the classical extra")
    cap = registry().make("capabilities", "creak", {"explanation": "none"})
    words = ["stone", "river", "cloud", "lamp", "bread", "glass"]

    def row(i: int, label: str) -> Row:
        cue = "honest" if label == "true" else "bogus"
        noise = " ".join(random.Random(i).sample(words, 3))
        return Row(id=f"r{i}", prompt=f"Claim: the {cue} {noise} claim {i}\nAnswer:",
                   target=f" {label}", answer=label)

    labeled = [row(i, "true" if i % 2 else "false") for i in range(200)]
    new = [row(i, "true" if i % 3 else "false") for i in range(200, 320)]
    tfidf = registry().make("supervisors", "tfidf")
    labels = tfidf.label(cap, new, {"labeled": labeled, "unlabeled": new, "test": []}, 0)
    assert accuracy(cap, new, labels) >= 0.95
    swapped = [r.model_copy(update={"answer": "false" if r.answer == "true" else "true",
                                    "target": " false" if r.answer == "true" else " true"})
               for r in labeled]
    labels = tfidf.label(cap, new, {"labeled": swapped, "unlabeled": new, "test": []}, 0)
    assert accuracy(cap, new, labels) <= 0.05
