"""bench/gpu-smollm.sh, the fine-tuned SmolLM2 suite at power for one GPU (issue 49): its rule
for how many seeds to run after the internal pilot, on constructed inputs, and the whole
script on this CPU at a toy size (slow tier), so that it is ready when a GPU is lent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from gpu_smollm_seeds import decide  # noqa: E402  (bench/gpu_smollm_seeds.py)


@pytest.mark.parametrize("fewest, left, seeds, why", [
    (None, 1e9, 3, "no seed count"),  # unreachable: the pilot's seeds, whatever the time
    (3, 0, 3, "suffice"),  # the pilot already has enough
    (5, 200, 5, "more fit"),  # 2 more seeds at 90 s each fit 200 s
    (5, 100, 3, "do not fit"),  # they do not fit 100 s
])
def test_the_seed_rule_gives_each_answer(fewest, left, seeds, why):
    got, reason = decide(fewest, pilot_seeds=3, pilot_seconds=270, left_seconds=left)
    assert (got, why in reason) == (seeds, True), reason


TOY = """
name: toy-gpu
weak: tiny-weak
strong: tiny-strong
backend: hf
seeds: [0, 1, 2]
mixtures: [joint]
capabilities:
  - {name: synth_arith, params: {labeled: 40, unlabeled: 40, test: 24}}
methods:
  - name: naive-tfidf
    supervisor: {name: tfidf}
train:
  name: sft
  params: {max_steps: 2, batch_size: 20, micro_batch_size: 20, lr: 3.0e-3}
baseline_shots: [0]
format_control: false  # fewer stages: the script, not the toy, is under test
"""


@pytest.mark.slow
def test_the_gpu_script_runs_plans_and_publishes_on_a_toy_suite(tmp_path):
    suite = tmp_path / "toy.yaml"
    suite.write_text(TOY)
    out = tmp_path / "out"
    env = {**os.environ, "SUITE": str(suite), "DATA": str(tmp_path), "TEST": "24",
           "JOBS": "1", "INSTALL": "0", "HARNESS_HOME": str(tmp_path / "home")}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu-smollm.sh"), "run", str(out)],
                          env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "entry.json", "log.txt", "machine.txt", "plan.txt", "record.json", "report.txt",
        "times.txt"]
    entry = json.loads((out / "entry.json").read_text())
    assert entry["manifest"]["suite"]["name"] == "toy-gpu"
    assert {r["seed"] for r in entry["results"]} == {0, 1, 2}
    plan = (out / "plan.txt").read_text().splitlines()
    assert plan[0].startswith("naive-tfidf synth_arith: gap") and plan[-1] == "seeds 3"
    assert "seeds 0-2:" in (out / "times.txt").read_text()
