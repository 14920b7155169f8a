"""Contract tests over the generated capabilities, plus their semantics."""

from __future__ import annotations

import random

import pytest

from harness.plugins import registry
from harness_plugins.capabilities.quick import arith_example, scan_example

SIZES = {"labeled": 300, "unlabeled": 500, "test": 200}


@pytest.mark.parametrize("name", ["synth_scan", "synth_arith"])
def test_splits_disjoint_sized_and_deterministic(name):
    cap = registry().make("capabilities", name, SIZES)
    a, b = cap.load(0), cap.load(0)
    assert [r.id for r in a.test] == [r.id for r in b.test]
    other = cap.load(1)
    assert [r.id for r in other.test] != [r.id for r in a.test]
    splits = a.names()
    for split, n in SIZES.items():
        assert len(splits[split]) == n
    ids = [r.id for rows in splits.values() for r in rows]
    prompts = [r.prompt for rows in splits.values() for r in rows]
    assert len(ids) == len(set(ids)) and len(prompts) == len(set(prompts))
    assert all(r.capability == name for r in a.test)


@pytest.mark.parametrize("name", ["synth_scan", "synth_arith"])
def test_gold_scores_one_and_empty_or_wrong_zero(name):
    cap = registry().make("capabilities", name, SIZES)
    rows = cap.load(0).test
    assert all(cap.score(r, r.target) == 1.0 for r in rows)
    assert all(cap.score(r, "") == 0.0 for r in rows)
    wrong = rows[1:] + rows[:1]
    assert sum(cap.score(r, w.target) for r, w in zip(rows, wrong)) < len(rows) * 0.2


def _interpret(command: str) -> str:
    """An independent SCAN interpreter, written from the paper's grammar table."""
    prim = {"walk": ["I_WALK"], "look": ["I_LOOK"], "run": ["I_RUN"], "jump": ["I_JUMP"],
            "turn": []}

    def phrase(words):
        times = {"twice": 2, "thrice": 3}.get(words[-1], 1)
        if times > 1:
            words = words[:-1]
        verb, rest = words[0], words[1:]
        act = prim[verb]
        if not rest:
            out = act
        else:
            t = ["I_TURN_LEFT" if rest[-1] == "left" else "I_TURN_RIGHT"]
            if rest[0] == "opposite":
                out = t + t + act
            elif rest[0] == "around":
                out = (t + act) * 4
            else:
                out = t + act
        return out * times

    words = command.split()
    for conj in ("and", "after"):
        if conj in words:
            i = words.index(conj)
            left, right = phrase(words[:i]), phrase(words[i + 1:])
            return " ".join(left + right if conj == "and" else right + left)
    return " ".join(phrase(words))


def test_scan_generator_matches_an_independent_interpreter():
    rng = random.Random(0)
    for _ in range(500):
        command, actions = scan_example(rng)
        assert _interpret(command) == actions, command
    assert _interpret("jump around left") == " ".join(["I_TURN_LEFT", "I_JUMP"] * 4)
    assert _interpret("walk after turn opposite right") == "I_TURN_RIGHT I_TURN_RIGHT I_WALK"


def test_arith_answer_follows_the_story():
    rng = random.Random(0)
    for _ in range(200):
        story, work, answer = arith_example(rng, steps=3, max_operand=9)
        total = int(story.split(" has ")[1].split()[0])
        for sentence in story.split(". ")[1:]:
            if " gets " in sentence:
                total += int(sentence.split(" gets ")[1].split()[0])
            elif " gives away " in sentence:
                total -= int(sentence.split(" gives away ")[1].split(".")[0])
        assert total == answer and work.endswith(f"#### {answer}")


def test_arith_scorer_reads_the_final_number():
    cap = registry().make("capabilities", "synth_arith", SIZES)
    row = cap.load(0).test[0]
    ans = row.answer
    assert cap.score(row, f" 1+1=2. #### {ans}") == 1.0
    assert cap.score(row, f" so {int(ans) + 1}") == 0.0
    assert cap.score(row, f" the answer is {ans}.") == 1.0


def test_synth_scan_pools_every_command_sampling_reaches_or_samples_its_pool():
    """With room for all, the pool is every command the grammar has within ``max_actions`` (a
    brute-force count), each with the actions that sampling until none is new gives; a
    smaller ``pool`` is sampled."""
    from harness_plugins.capabilities.quick import PHRASES
    from harness_plugins.capabilities.scan import scan_row

    for limit in (4, 12):
        every = {left for left, act in PHRASES if len(act) <= limit} | {
            f"{left} {conj} {right}" for left, a in PHRASES for right, b in PHRASES
            for conj in ("and", "after") if len(a) + len(b) <= limit}
        cap = registry().make("capabilities", "synth_scan", {"max_actions": limit})
        pool = {r.prompt: r.target for r in cap.pools(None, 0)["train"]}
        assert len(pool) == len(every), limit
        if limit == 4:
            rng, sampled = random.Random(0), {}
            while len(sampled) < len(every):
                cmd, act = scan_example(rng)
                if len(act.split()) <= limit:
                    sampled[cmd] = act
            rows = [scan_row("", cmd, act) for cmd, act in sampled.items()]
            assert {r.prompt: r.target for r in rows} == pool
    small = registry().make("capabilities", "synth_scan", {"pool": 500})
    assert len(small.pools(None, 0)["train"]) == 500
