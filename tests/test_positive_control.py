"""The plumbing control of issue 32: the harness says "yes" where weak-to-strong generalization
is there by construction, and "no" where it is not, end to end on the fake plugins.

The weak supervisor (the ``fake`` trainer with ``noise: 0.3``) answers 30% of items wrong at
random. A student that answers an unseen prompt with the majority of its nearest weak labels
(``vote``) recovers each key's value from its noisy labels and beats its supervisor; one that
copies its nearest label (the default) takes one weak label per key, right 70% of the time:
no better than its supervisor in expectation, so "no". The untuned strong model answers
nothing. Three seeds, so the verdicts are not provisional."""

from __future__ import annotations

import pytest

from conftest import record_of, run_fake
from harness.report import summarise
from harness.schemas import CapabilityResult

SUITE = """name: control
weak: fake-weak
strong: fake-strong
backend: fake
seeds: [0, 1, 2]
mixtures: [joint]
capabilities:
  - {{name: fake_lookup, params: {{labeled: 60, unlabeled: 300, test: 100}}}}
methods: [{{name: naive}}]
train: {{name: fake, params: {{vote: {vote}}}}}
weak_train: {{name: fake, params: {{noise: 0.3}}}}
baseline_shots: [0]
"""


@pytest.mark.parametrize("vote,expected", [(True, "yes"), (False, "no: not above weak")])
def test_the_harness_finds_weak_to_strong_generalization_where_it_is_built_in(
        tmp_path, vote, expected):
    suite = tmp_path / "control.yaml"
    suite.write_text(SUITE.format(vote=str(vote).lower()))
    run_dir, _ = run_fake(suite, tmp_path / "home")
    (s,) = summarise([CapabilityResult.model_validate(r)
                      for r in record_of(run_dir)["results"]])
    assert s.generalizes.startswith(expected), s.generalizes
    if vote:  # and the PGR's interval is above 0
        assert s.pgr is not None and s.pgr.low > 0, s.pgr_text(reason=True)
        assert s.w2s.mean > s.weak.mean + 0.15
    else:  # and the "no" says what it could have detected
        assert "could detect >= " in s.generalizes


def test_the_format_only_control_trains_on_the_weak_labels_shuffled(tmp_path):
    """Issue 32: the strong model trained on the supervisor's labels permuted across items
    within each capability (the same answers, no item information), evaluated, and counted
    among the strong baselines W2S has to beat. A version that did not shuffle would train on
    the weak labels themselves: the pairing check below fails it."""
    import json

    from conftest import fake_suite

    suite = fake_suite(tmp_path, seeds="[0]")
    suite.write_text(suite.read_text() + "format_control: true\n")
    run_dir, manifest = run_fake(suite, tmp_path / "home")
    cache = tmp_path / "home" / "cache"
    at = {s["label"]: cache / s["stage"] / s["key"] for s in manifest["stages"]}
    (fmt,) = [p for label, p in at.items() if label.startswith("train format control")]
    (pool,) = [p for label, p in at.items() if label.startswith("select all")]
    trained = json.loads((fmt / "model" / "fake-model.json").read_text())
    weak = [json.loads(line) for line in (pool / "selected.jsonl").read_text().splitlines()]
    assert set(trained) == {i["prompt"] for i in weak}
    for cap in {i["capability"] for i in weak}:
        mine = [i for i in weak if i["capability"] == cap]
        assert sorted(trained[i["prompt"]] for i in mine) == sorted(i["label"] for i in mine)
        moved = sum(trained[i["prompt"]] != i["label"] for i in mine)
        assert moved > len(mine) / 3, (cap, moved)  # the pairing is gone
    results = [CapabilityResult.model_validate(r) for r in record_of(run_dir)["results"]]
    assert all("strong_format" in r.baselines and r.items["strong_format"] for r in results)
    assert "format-only control" in (run_dir / "report.md").read_text()


SIMULATED = """name: simulated-control
strong: fake-strong
backend: fake
seeds: [0, 1, 2]
mixtures: [joint]
supervisor: {{name: simulated, params: {{q: 0.6, errors: {errors}}}}}
capabilities:
  - {{name: fake_lookup, params: {{labeled: 60, unlabeled: 300, test: 100}}}}
methods: [{{name: naive}}]
train: {{name: fake, params: {{vote: true}}}}
baseline_shots: [0]
"""


@pytest.mark.parametrize("errors,expected", [("random", "yes"),
                                             ("systematic", "no: not above weak")])
def test_simulated_supervisors_give_the_controls_their_verdicts(tmp_path, errors, expected):
    """The controls' design on the fake plugins: a student that generalises over its labels
    (``vote``) beats a supervisor whose errors are random, and copies one whose errors follow
    a rule it can learn (whole answer classes relabelled). No weak model is trained: the
    "weak" score is the simulated labels' accuracy on the test items."""
    suite = tmp_path / "simulated.yaml"
    suite.write_text(SIMULATED.format(errors=errors))
    run_dir, manifest = run_fake(suite, tmp_path / "home")
    labels = [s["label"] for s in manifest["stages"]]
    assert not any(label.startswith("train weak") for label in labels)
    assert any(label.startswith("label simulated") for label in labels)
    results = [CapabilityResult.model_validate(r) for r in record_of(run_dir)["results"]]
    assert all(abs(r.weak - 0.6) < 0.15 for r in results), [r.weak for r in results]
    assert not any(k.startswith("weak_") for r in results for k in r.baselines)
    (s,) = summarise(results)
    assert s.generalizes.startswith(expected), s.generalizes


def test_a_selector_that_needs_the_weak_model_is_refused_with_a_simulated_supervisor(
        tmp_path, capsys):
    from harness.cli import main

    suite = tmp_path / "simulated.yaml"
    suite.write_text(SIMULATED.format(errors="random").replace(
        "methods: [{name: naive}]", "methods: [{name: conf, selector: {name: confidence}}]"))
    assert main(["run", "--suite", str(suite), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "weak_logprob" in err[0] \
        and "supervisor simulated" in err[0], err


def _format_control_problem(items, examples) -> str | None:
    """What is wrong with a format-only control's training set, or None: within each
    capability its targets must be the supervisor's labels, permuted (the same multiset), and
    no more often on their own item than a permutation puts them there by chance."""
    from collections import Counter

    by_prompt = {i.prompt: i for i in items}
    for cap in {i.capability for i in items}:
        mine = [e for e in examples if by_prompt[e.prompt].capability == cap]
        labels = Counter(i.label for i in items if i.capability == cap)
        if Counter(e.target for e in mine) != labels:
            return f"{cap}: its targets are not a permutation of the supervisor's labels"
        kept = sum(e.target == by_prompt[e.prompt].label for e in mine) / len(mine)
        chance = sum((n / len(mine)) ** 2 for n in labels.values())
        if kept > chance + 0.15:
            return f"{cap}: {kept:.2f} of targets stay on their own item (chance {chance:.2f})"
    return None


def test_the_format_controls_labels_are_a_permutation_and_a_broken_one_is_caught(tmp_path):
    import random

    from harness import WeakItem, outputs

    rng = random.Random(0)
    items = [WeakItem(id=f"{cap}-{i}", capability=cap, prompt=f"{cap} question {i}",
                      label=f" {rng.choice('abcdefgh')}") for cap in ("x", "y")
             for i in range(120)]
    outputs.write_selection(tmp_path, items, {})
    assert _format_control_problem(items, outputs.shuffled_as_examples(tmp_path, 0)) is None
    unshuffled = outputs.selected_as_examples(tmp_path)
    assert "stay on their own item" in _format_control_problem(items, unshuffled)
    drawn = [e.model_copy(update={"target": rng.choice(items).label}) for e in unshuffled]
    assert "not a permutation" in _format_control_problem(items, drawn)
