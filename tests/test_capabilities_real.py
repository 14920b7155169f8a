"""The paper's eight capabilities on the real files in ../shared/data (see its MANIFEST.md)."""

from __future__ import annotations

import pytest

from harness.plugins import registry

# Raw rows per pool, from the manifest's counts (train pools include what the loader pools).
POOLS = {
    "gsm8k": {"train": 7473, "test": 1319},
    "mctaco": {"train": 3783 + 9442},
    "scan": {"train": 16728, "test": 4182},
    "creak": {"train": 10176, "test": 1371},
    "ecqa": {"train": 7112 + 1090, "test": 2194},
    "esnli": {"train": 9842 + 9824},
    "openbookqa": {"train": 4957 + 500, "test": 500},
    "sciq": {"train": 11679 + 1000, "test": 1000},
}
SIZES = {"labeled": 300, "unlabeled": 600, "test": 400}
NAMES = sorted(POOLS)


@pytest.fixture(scope="module")
def loaded(shared_data):
    out = {}
    for name in NAMES:
        cap = registry().make("capabilities", name, SIZES)
        source = str(shared_data / name)
        out[name] = (cap, cap.pools(source, 0), cap.load(0, source), cap.load(0, source),
                     cap.load(1, source))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_row_counts_match_the_manifest(loaded, name):
    _, pools, *_ = loaded[name]
    assert {k: len(v) for k, v in pools.items()} == POOLS[name]


@pytest.mark.parametrize("name", NAMES)
def test_rows_are_well_formed(loaded, name):
    cap, pools, *_ = loaded[name]
    for rows in pools.values():
        for r in rows[:: max(1, len(rows) // 500)]:
            assert isinstance(r.id, str) and r.id
            assert isinstance(r.prompt, str) and r.prompt.endswith(":")
            assert r.target.startswith(" ") and r.answer
            if r.choices is not None:
                assert r.answer in r.choices and len(r.choices) in (4, 5)
                assert r.choices[r.meta["label_index"]] == r.answer
    if name in ("ecqa", "esnli"):
        with_expl = [r for rows in pools.values() for r in rows if r.explanation]
        assert len(with_expl) > 0.95 * sum(len(v) for v in pools.values())
        assert all(r.explanation.split()[0].lower() in r.target.lower() for r in with_expl[:200])


@pytest.mark.parametrize("name", NAMES)
def test_splits_disjoint_sized_and_deterministic(loaded, name):
    cap, _, a, b, other = loaded[name]
    splits = a.names()
    for split, rows in splits.items():
        # Grouped capabilities (MC-TACO) may overshoot by one group.
        assert SIZES[split] <= len(rows) <= SIZES[split] + 20
    ids = [r.id for rows in splits.values() for r in rows]
    prompts = [r.prompt for rows in splits.values() for r in rows]
    assert len(ids) == len(set(ids)) and len(prompts) == len(set(prompts))
    groups = [{cap.group_of(r) for r in rows} for rows in splits.values()]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert a.model_dump() == b.model_dump()
    assert [r.id for r in other.labeled] != [r.id for r in a.labeled]


@pytest.mark.parametrize("name", NAMES)
def test_gold_scores_one_and_empty_or_wrong_zero_on_every_test_row(shared_data, name):
    cap = registry().make("capabilities", name, {"labeled": 1, "unlabeled": 1, "test": 10**6})
    rows = cap.load(0, str(shared_data / name)).test
    assert len(rows) > 300
    assert [r.id for r in rows if cap.score(r, r.target) != 1.0] == []
    assert [r.id for r in rows if cap.score(r, "") != 0.0] == []
    wrong = [_wrong(r) for r in rows]
    assert [r.id for r, w in zip(rows, wrong) if cap.score(r, w) != 0.0] == []


def _wrong(row) -> str:
    """A confidently wrong answer in the capability's own format."""
    if row.choices:
        i = (row.meta["label_index"] + 1) % len(row.choices)
        return f" ({'ABCDE'[i]}) {row.choices[i]}"
    if row.answer in ("yes", "no"):
        return " no" if row.answer == "yes" else " yes"
    if row.answer in ("true", "false"):
        return " false" if row.answer == "true" else " true"
    if row.answer in ("entailment", "neutral", "contradiction"):
        return " neutral" if row.answer != "neutral" else " contradiction"
    if row.answer.startswith("I_"):
        return " " + " ".join(row.answer.split()[:-1] or ["I_JUMP", "I_JUMP"])
    return f" #### {float(row.answer) + 1}"


def test_mctaco_keeps_a_questions_candidates_together(loaded):
    cap, _, splits, *_ = loaded["mctaco"]
    per_split = [{r.meta["question_key"] for r in rows} for rows in splits.names().values()]
    assert sum(len(s) for s in per_split) == len(set().union(*per_split))
    rows = splits.test
    em = cap.metrics(rows, [1.0] * len(rows))["em"]
    assert em == 1.0
    assert cap.metrics(rows, [0.0] + [1.0] * (len(rows) - 1))["em"] < 1.0


@pytest.mark.parametrize("name", NAMES)
def test_answer_of_reads_no_gold_and_agrees_with_score(shared_data, name):
    """Selectors compare answers through ``answer_of`` on unlabeled rows: it must give the same
    answer with the row's gold fields blanked, and score 1 exactly when it matches the gold."""
    cap = registry().make("capabilities", name, {"labeled": 1, "unlabeled": 1, "test": 200})
    rows = cap.load(0, str(shared_data / name)).test
    for row in rows:
        blind = row.model_copy(update={"answer": "", "target": "", "explanation": None,
                                       "meta": {}})
        for completion in (row.target, _wrong(row), ""):
            got = cap.answer_of(row, completion)
            assert cap.answer_of(blind, completion) == got
            assert cap.score(row, completion) == float(got is not None
                                                       and got == cap.gold_of(row))
