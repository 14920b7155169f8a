"""The CPU testbed, run as a user runs it: the design criteria it was built to meet, measured
against the untuned models (issue 18's (a)-(d)), and a report that says whether each method
generalizes weak to strong, whatever it shows."""

from __future__ import annotations

import pytest

from conftest import harness_cli, run_dir_of
from harness.schemas import CapabilityResult
from harness.report import difference, summarise
from harness.stats import noise_gap
from harness.store import read_jsonl


@pytest.mark.slow
def test_quickstart_leaves_room_for_weak_to_strong_generalization(tmp_path):
    proc = harness_cli("run", "--suite", "quickstart", env={"HARNESS_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [CapabilityResult.model_validate(r)
               for r in read_jsonl(run_dir_of(proc) / "results.jsonl")]
    summaries = {(s.method, s.capability): s for s in summarise(results)}
    for cap in ("fact_sum", "fact_city"):
        s = summaries[("naive", cap)]
        r = next(r for r in results if r.capability == cap)
        # (a) the untuned strong model, 0- and 3-shot, at least 0.15 below the ceiling (the
        # format-only control is a strong baseline too, reported beside them, not a criterion)
        assert set(s.baselines) == {"strong_0shot", "strong_3shot", "weak_0shot", "weak_3shot",
                                    "strong_format"}
        untuned = max(("strong_0shot", "strong_3shot"), key=lambda b: s.baselines[b].mean)
        over = difference([x for x in results if x.method == "naive" and x.capability == cap],
                          "ceiling", untuned)
        assert over.mean >= 0.15 and over.low > 0, cap
        # (b) gold fine-tuning does not make the weak model worse than its untuned self
        assert s.weak_over_base.high >= 0, cap
        # (c) the weak model clearly below the ceiling (the figures move with the machine and the
        # thread count: README). Measured with seed 0: fact_city's gap is 0.39 to 0.51 on
        # every machine and thread count measured; fact_sum's depends on the CPU's vector instructions
        # (torch's kernels round differently, so training ends elsewhere): 0.173 - 0.067 on
        # AVX-512, above its noise gap 0.076; 0.160 - 0.087 on AVX2 (CI's machine, and here
        # with ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2), below it. Where (c)
        # fails, the harness must refuse the PGR and say why, not publish a ratio of noise.
        if s.ceiling.mean - s.weak.mean <= noise_gap(r.items["weak"], r.items["ceiling"]):
            assert cap == "fact_sum", cap
            assert r.pgr is None and "2 SEs of the paired difference" in (r.pgr_note or ""), s
    # Every method is marked: generalizing weak to strong or not, and why; on one seed, as
    # provisional.
    assert "w2s beats weak and base?" in proc.stdout
    early = "provisional (1 seed: seed noise not measured): "
    assert all(s.generalizes.removeprefix(early).startswith(("yes", "no"))
               and s.generalizes.startswith(early) for s in summaries.values())


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
