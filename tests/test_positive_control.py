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

from conftest import run_fake
from harness.report import summarise
from harness.schemas import CapabilityResult
from harness.store import read_jsonl

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
                      for r in read_jsonl(run_dir / "results.jsonl")])
    assert s.generalizes.startswith(expected), s.generalizes
    if vote:  # and the PGR's interval is above 0
        assert s.pgr is not None and s.pgr.low > 0, s.pgr_text(reason=True)
        assert s.w2s.mean > s.weak.mean + 0.15
    else:  # and the "no" says what it could have detected
        assert "could detect >= " in s.generalizes
