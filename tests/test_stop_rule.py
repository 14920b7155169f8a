"""The stop rule (issue 33): a stop never ends a completion that has said nothing yet, shown on
the untuned SmolLM2's own CREAK completions, where "The answer is:" and a line break used to
end 248 of 300 (``bench/results/stop-rules.json``, from ``bench/stop_rules.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bases import Generation, unsaid

SUMMARY = Path(__file__).parent.parent / "bench" / "results" / "stop-rules.json"


def whitespace_only(g: Generation) -> bool:
    """The rule before issue 33."""
    return g.stop is not None and not g.text.strip()


def every_stop(g: Generation) -> bool:
    """Broken on purpose: continues past every stop, answered or not."""
    return g.stop is not None


def continued_answers(cap, rows, gens, rule) -> int:
    """How many completions that had given an answer the rule would continue."""
    return sum(rule(g) and cap.answer_of(r, g.text) is not None for r, g in zip(rows, gens))


@pytest.mark.slow
def test_the_rule_continues_only_completions_that_gave_no_answer(shared_data, smollm2):
    from harness.plugins import registry

    reg = registry()
    cap = reg.make("capabilities", "creak", {"labeled": 800, "unlabeled": 400, "test": 300,
                                              "explanation": "none"})
    rows = cap.load(0, str(shared_data / "creak")).test[:24]
    decode = type(cap).decode.model_copy(update={"max_new_tokens": 16, "batch_size": 24})
    hf, model = reg.make("backends", "hf"), smollm2
    prompts = [r.prompt for r in rows]
    before = hf.complete(model, prompts, decode, again=whitespace_only)
    now = hf.complete(model, prompts, decode)
    reached = [g for g in before if unsaid(g)]
    assert len(reached) >= 12  # "The answer is:" then a line break, as on the 300 items
    assert continued_answers(cap, rows, before, unsaid) == 0
    assert continued_answers(cap, rows, before, every_stop) > 0  # the check can fail
    changed = [(a, b) for a, b in zip(before, now) if a.text != b.text]
    assert len(changed) == len(reached)
    assert all(b.text.startswith(a.text + a.stop) for a, b in changed)  # kept, then went on
    right = [sum(cap.score(r, g.text) for r, g in zip(rows, gens)) for gens in (before, now)]
    assert right[1] > right[0]


def test_the_stored_measurement_is_what_the_docs_quote():
    rows = {r["capability"]: r for r in json.loads(SUMMARY.read_text())}
    assert rows["creak"]["changed"] == rows["creak"]["stopped_after_marker_before"] == 248
    assert rows["sciq"]["empty_now"] == 285  # ended by the end of text: no stop rule reaches it
