"""Gold targets that decoding would cut stop a run before any model runs, with one line."""

from __future__ import annotations

import pytest

from harness import DecodeConfig
from harness.preflight import cut_by_stop, problems
from harness.plugins import registry
from conftest import harness_cli


def test_a_stop_string_cuts_only_after_content():
    assert cut_by_stop("\ntrue", ["\n"]) is None  # whitespace first never stops
    assert cut_by_stop(" The answer is:\ntrue", ["\n"]) is None  # nor an answer marker
    assert cut_by_stop(" The answer is: true\nbecause", ["\n"]) == "\n"
    assert cut_by_stop(" 3 + 4 = 7\n#### 7", ["\n\n", "Question:"]) is None
    assert cut_by_stop(" a\nb", ["\n"]) == "\n"
    assert cut_by_stop(" done.\n", ["\n"]) is None  # a final stop cuts nothing


def test_the_threshold_is_one_percent():
    cap = registry().make("capabilities", "synth_scan")
    ok = [" I_WALK"] * 100
    assert problems(cap, DecodeConfig(), ok + [" a\nb"], None, "") == []
    found = problems(cap, DecodeConfig(), ok + [" a\nb"] * 2, None, "")
    assert len(found) == 1 and "2 of 102 gold targets contain the stop string" in found[0]
    long = problems(cap, DecodeConfig(max_new_tokens=3), ok, lambda t: len(t), "m's tokenizer")
    assert "longer than max_new_tokens 3 (7 tokens by m's tokenizer)" in long[0]


@pytest.mark.slow
@pytest.mark.parametrize("decode,says", [
    ("{stop: ['I_']}", "contain the stop string 'I_'"),
    ("{max_new_tokens: 2}", "longer than max_new_tokens 2"),
])
def test_a_run_stops_before_any_model_runs(decode, says, tmp_path):
    suite = tmp_path / "cut.yaml"
    suite.write_text(f"""
name: cut
weak: tiny-weak
strong: tiny-strong
seeds: [0]
capabilities: [{{name: synth_scan, params: {{labeled: 20, unlabeled: 20, test: 20}}}}]
decode: {decode}
""")
    home = tmp_path / "home"
    proc = harness_cli("run", "--suite", str(suite), "--backend", "hf",
                       env={"HARNESS_HOME": str(home)})
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: synth_scan: ") and says in last and "--warn-targets" in last
    assert sorted(p.name for p in (home / "cache").iterdir()) == ["data"]
