"""Every kind of method end to end on tiny models, and proof that selectors never see gold;
the same shapes over two seeds and both mixtures on the fake plugins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import harness_cli, record_of
from harness.record import load
from harness.report import summarise
from harness.store import Store, read_jsonl, write_jsonl

SUITE = """
name: methods-e2e
weak: tiny-weak
strong: tiny-strong
backend: hf
seeds: [0]
mixtures: [joint]
capabilities:
  - {name: synth_scan, params: {labeled: 60, unlabeled: 80, test: 24}}
  - {name: synth_arith, params: {labeled: 60, unlabeled: 80, test: 24}}
methods:
  - {name: naive}
  - name: rm-two-stage
    selector: {name: reward_model, params: {lr: 1.0e-3, batch_size: 8, micro_batch_size: 8}}
    trainer: {name: two_stage, params: {stage2: {max_steps: 2}}}
  - name: rm-pointwise
    selector: {name: reward_model, params: {loss: pointwise, lr: 1.0e-3, batch_size: 8,
                                            micro_batch_size: 8, keep_agreeing: true}}
  - {name: confidence, selector: {name: confidence, params: {ratio: 0.3}}}
  - name: boot
    trainer: {name: self_bootstrap, params: {rounds: 1, restart: false, temperature: 0.7}}
train:
  name: sft
  params: {max_steps: 3, batch_size: 20, micro_batch_size: 20, lr: 3.0e-3}
decode: {max_new_tokens: 24}  # short for speed: the preflight only warns
target_check: warn
"""
METHODS = {"naive", "rm-two-stage", "rm-pointwise", "confidence", "boot"}


def _run(suite: Path, home: Path, *extra: str) -> Path:
    proc = harness_cli("run", "--suite", str(suite), *extra, env={"HARNESS_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1].split("run: ", 1)[1])


def _selections(home: Path) -> dict[str, list[dict]]:
    return {p.parent.name: read_jsonl(p) for p in (home / "cache" / "select").glob("*/selected.jsonl")}


@pytest.mark.slow
def test_every_method_runs_reports_and_never_reads_the_unlabeled_gold(tmp_path):
    """One seed, the joint mixture: seeds, mixtures and transfer multiply the same stages,
    which the fake test below covers in seconds."""
    suite, home = tmp_path / "s.yaml", tmp_path / "home"
    suite.write_text(SUITE)
    run_dir = _run(suite, home)
    results = record_of(run_dir)["results"]
    assert {r["method"] for r in results} == METHODS
    assert len(results) == len(METHODS) * 2  # methods x capabilities
    for r in results:
        a = r["analysis"]
        assert {"weak_label_acc", "train_n", "train_label_acc", "train_distinct_2",
                "train_compression", "supervisor_agreement"} <= a.keys()
        assert r["method"] != "confidence" or a["train_n"] == 24  # 0.3 of 80
        assert ("pool_agreement" in a) == r["method"].startswith("rm-")
    assert "## Weak labels" in (run_dir / "report.md").read_text()

    # Rewrite every gold answer of the unlabeled splits (prompts unchanged) and the entries'
    # checksums to match (so the store serves the rewritten files rather than restoring them;
    # the entries' digests, hence every key, stay), then recompute every selection, reward
    # models included: not one selected item may change.
    before = _selections(home)
    for path in (home / "cache" / "data").glob("*/unlabeled.jsonl"):
        rows = read_jsonl(path)
        for row in rows:
            row.update(answer="GOLD CHANGED", target=" GOLD CHANGED", explanation=None)
        write_jsonl(path, rows)
        record_file = path.parent / "_complete.json"
        record = json.loads(record_file.read_text())
        record["files"][path.name] = [path.stat().st_size,
                                      hashlib.sha256(path.read_bytes()).hexdigest()]
        record_file.write_text(json.dumps(record))
        assert Store(home).problem("data", path.parent.name) is None
    _run(suite, home, "--force", "select")
    served = [p for p in (home / "cache" / "data").glob("*/unlabeled.jsonl")]
    assert all("GOLD CHANGED" in p.read_text() for p in served), "the rewrite was served"
    assert _selections(home) == before


FAKE_METHODS = """  - {name: naive}
  - {name: confidence, selector: {name: confidence, params: {ratio: 0.3}}}
  - name: two-stage
    selector: {name: random, params: {ratio: 0.5}}
    trainer: {name: two_stage, params: {trainer: fake}}
  - name: boot
    trainer: {name: self_bootstrap, params: {trainer: fake, rounds: 1}}"""


def test_two_seeds_and_both_mixtures_give_intervals_transfer_and_every_report_section(tmp_path):
    from conftest import fake_suite, run_fake

    suite = fake_suite(tmp_path, methods=FAKE_METHODS, seeds="[0, 1]", mixtures="[joint, single]")
    suite.write_text(suite.read_text() + "transfer: true\n")
    run_dir, _ = run_fake(suite, tmp_path / "home")
    methods = {"naive", "confidence", "two-stage", "boot"}
    results = record_of(run_dir)["results"]
    assert {r["method"] for r in results} == methods
    assert len(results) == len(methods) * 2 * 2 * 2  # methods x capabilities x mixtures x seeds
    transfer = record_of(run_dir)["transfer"]
    assert len(transfer) == len(methods) * 2 * 2 * 2  # x trained on x evaluated on x seeds
    # Per-item scores, aligned with the evaluated capability's own results (finding 2 pairs
    # them with the untuned strong model's).
    n_test = {(r["seed"], r["capability"]): r["n_test"] for r in results}
    assert all(len(t["items"]) == n_test[(t["seed"], t["evaluated_on"])] for t in transfer)
    # Each result records its method's training budget from what it actually trained on:
    # two-stage's pool (80 + 60 weak labels jointly) then its random half, one pass each in
    # batches of 8 (the fake trainer's shape).
    two = next(r for r in results if r["method"] == "two-stage" and r["mixture"] == "joint")
    assert (two["analysis"]["train_examples"], two["analysis"]["train_steps"]) == \
        (140 + 70, 18 + 9)
    boot = next(r for r in results if r["method"] == "boot" and r["mixture"] == "single"
                and r["capability"] == "fake_lookup")
    assert (boot["analysis"]["train_examples"], boot["analysis"]["train_steps"]) == (160, 20)
    summary = summarise(load(run_dir).results)
    assert all(s.seeds == [0, 1] and s.w2s.low is not None for s in summary)
    report = (run_dir / "report.md").read_text()
    for title in ("Results", "Weak labels", "Joint vs single", "Transfer"):
        assert f"## {title}" in report
