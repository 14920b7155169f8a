"""The CPU testbed's design criteria (issue 18's (a)-(d)), checked on the published
quickstart entry: its per-item scores are stored, so the check takes a second and reads the
figures the board shows. Running the quickstart itself pretrains the testbed's two models
(about 10 minutes of one core), which is a measurement, not a test: `harness run --suite
quickstart && harness leaderboard add latest` re-measures it, and a test below fails when the
testbed's code has changed since the published run, so the entry cannot go stale unseen."""

from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT
from harness.leaderboard import entries
from harness.report import difference, summarise
from harness.runs import find_suite
from harness.schemas import Suite
from harness.stats import noise_gap

TESTBED = ["plugins/capabilities/facts.py", "harness/tinymodels.py"]
"""What decides the quickstart's figures beyond the pipeline and its suite: the testbed's data
and its models' pretraining."""


def published_quickstart():
    found = [e for e in entries(ROOT / "leaderboard") if e.suite == "quickstart"]
    return max(found, key=lambda e: e.manifest.started)


def meets_the_criteria(results) -> list[str]:
    """Criteria (a)-(c) on a quickstart run's results; what fails, or nothing."""
    failed = []
    summaries = {(s.method, s.capability): s for s in summarise(results)}
    for cap in ("fact_sum", "fact_city"):
        s = summaries[("naive", cap)]
        r = next(r for r in results if r.capability == cap and r.method == "naive")
        # (a) the untuned strong model, 0- and 3-shot, at least 0.15 below the ceiling (the
        # format-only control is a strong baseline too, reported beside them, not a criterion)
        untuned = max(("strong_0shot", "strong_3shot"), key=lambda b: s.baselines[b].mean)
        over = difference([x for x in results if x.method == "naive" and x.capability == cap],
                          "ceiling", untuned)
        if not (over.mean >= 0.15 and over.low > 0):
            failed.append(f"(a) {cap}")
        # (b) gold fine-tuning does not make the weak model worse than its untuned self
        if s.weak_over_base.high < 0:
            failed.append(f"(b) {cap}")
        # (c) the weak model clearly below the ceiling; where it is not, the PGR is refused
        # with the reason, never published as a ratio of noise (docs/results.md: on AVX2,
        # fact_sum's gap fell within its noise).
        if s.ceiling.mean - s.weak.mean <= noise_gap(r.items["weak"], r.items["ceiling"]):
            if not (r.pgr is None and "2 SEs of the paired difference" in (r.pgr_note or "")):
                failed.append(f"(c) {cap}: PGR published inside the noise")
            else:
                failed.append(f"(c) {cap}")
    return failed


def test_the_published_quickstart_meets_the_testbed_criteria():
    entry = published_quickstart()
    assert meets_the_criteria(entry.results) == []
    assert {"strong_0shot", "strong_3shot", "weak_0shot", "weak_3shot", "strong_format"} <= \
        set(entry.results[0].items)
    # Every method is marked generalizing weak to strong or not, and on one seed provisional.
    early = "provisional (1 seed: seed noise not measured): "
    assert all(s.generalizes.startswith(early)
               and s.generalizes.removeprefix(early).startswith(("yes", "no"))
               for s in summarise(entry.results))


def test_the_criteria_check_fails_a_testbed_with_no_room():
    """A testbed whose untuned strong model already reaches the ceiling fails (a): the check
    can fail."""
    results = [r.model_copy(deep=True) for r in published_quickstart().results]
    for r in results:
        r.items["strong_0shot"] = list(r.items["ceiling"])
    assert "(a) fact_sum" in meets_the_criteria(results)


def test_the_published_quickstart_ran_the_suite_and_testbed_as_they_are():
    entry = published_quickstart()
    assert entry.manifest.suite == Suite.from_file(find_suite("quickstart")), (
        "leaderboard/suites/quickstart.yaml changed since the published quickstart: run "
        "`harness run --suite quickstart && harness leaderboard add latest` and commit")
    commit = entry.manifest.git.get("commit")
    try:
        last = subprocess.run(["git", "log", "-1", "--format=%H", "--", *TESTBED], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the testbed's history is unknown here")
    if not last:
        pytest.skip("a shallow clone: the testbed's history is unknown here")
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT,
                           capture_output=True)
    if known.returncode:
        pytest.skip(f"the entry's commit {commit} is not in this clone's history")
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", last, commit], cwd=ROOT)
    assert ancestor.returncode == 0, (
        f"the testbed changed in {last[:8]} after the published quickstart ({commit[:8]}): "
        "run `harness run --suite quickstart && harness leaderboard add latest` and commit")


def test_the_weak_model_is_pretrained_on_a_seeded_share_of_the_facts():
    from harness import resolver, tinymodels

    weak, strong = tinymodels.TINY["testbed-weak"], tinymodels.TINY["testbed-strong"]
    assert weak.corpus == strong.corpus == tinymodels.TESTBED
    assert weak.corpus_share < 1 == strong.corpus_share
    assert weak.hidden_size * weak.num_hidden_layers < strong.hidden_size * strong.num_hidden_layers
    # Each seed pretrains its own pair.
    assert weak.per_seed and strong.per_seed
    assert tinymodels.seeded("testbed-strong", 2) == "testbed-strong#2"
    assert tinymodels.tiny_spec("testbed-strong#2").seed == 2
    assert resolver.model_identity("testbed-strong#1") != \
        resolver.model_identity("testbed-strong#2")
    assert tinymodels.seeded("tiny-strong", 2) == "tiny-strong"


def test_no_test_prompt_is_a_pretraining_sentence_and_no_line_states_a_fact_with_its_code():
    """Criterion (d): the untuned model cannot answer by reciting a memorised line."""
    from harness.plugins import registry
    from harness_plugins.capabilities.facts import CITY_CODES, sum_answer

    assert all(code != city for city, code in CITY_CODES.items())
    assert all(a != b for n in range(40) for a, b in zip(str(n), sum_answer(n, "relabel")))
    for name in ("fact_sum", "fact_city"):
        cap = registry().make("capabilities", name)
        text = cap.corpus()
        lines = set(text)
        for r in cap.pools(None, 0)["train"]:
            answer = r.prompt.split(" a: ", 1)[1]
            assert r.prompt not in lines and answer + r.target + "." not in lines, r.id
            assert not any(line.startswith(r.prompt) for line in text), r.id
