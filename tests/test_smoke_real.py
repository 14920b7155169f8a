"""The CPU smoke path on the real files: all eight capabilities, tiny models, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import harness_cli, record_of

pytestmark = pytest.mark.slow

NAMES = ("gsm8k", "mctaco", "scan", "creak", "ecqa", "esnli", "openbookqa", "sciq")


def test_dry_run_shows_sources_sizes_and_plan(shared_data, tmp_path):
    proc = harness_cli("run", "--suite", "multi-capability", "--dry-run", "--data-dir",
                       str(shared_data), env={"HARNESS_HOME": str(tmp_path)}, check=True)
    for name in NAMES:
        assert str(shared_data.resolve() / name) in proc.stdout
    assert "train weak [gsm8k+mctaco+scan+creak+ecqa+esnli+openbookqa+sciq seed 0]" in proc.stdout
    assert "train ceiling [sciq seed 0]" in proc.stdout  # the single mixture
    assert "Qwen/Qwen1.5-0.5B" in proc.stdout


# The real-LM run first: it needs no tiny model, so while another worker builds the tiny pair
# (a minute or two of one core, under a lock) this one computes instead of waiting for it.
def test_the_smollm_suite_runs_a_real_lm_through_every_stage(shared_data, smollm2, tmp_path):
    """The real-model suite, cut to one capability and four items a split: SmolLM2 and its
    4-block copy are converted and derived offline, trained, decoded and graded beside the
    untuned baselines, and every result counts its empty completions."""
    proc = harness_cli("run", "--suite", "smollm", "--data-dir", str(shared_data),
                       "--capabilities", "esnli", "--limit", "4",
                       env={"HARNESS_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split("run: ", 1)[1])
    results = record_of(run_dir)["results"]
    assert [r["capability"] for r in results] == ["esnli"]
    for r in results:
        assert set(r["baselines"]) == {"strong_0shot", "strong_3shot", "weak_0shot", "weak_3shot",
                                       "strong_format"}
        assert set(r["empty"]) == {"weak", "w2s", "ceiling", *r["baselines"]}
    manifest = record_of(run_dir)["manifest"]
    assert manifest["suite"]["weak"] == "smollm2-135m-l4"
    assert "Baselines" in (run_dir / "report.md").read_text()


def test_smoke_run_on_real_files(shared_data, tmp_path):
    proc = harness_cli(
        "run", "--suite", "multi-capability", "--data-dir", str(shared_data), "--weak",
        "tiny-weak", "--strong", "tiny-strong", "--limit", "6", "--mixtures", "joint",
        "--warn-targets",
        "--seeds", "0", "--methods", "naive",
        env={"HARNESS_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split("run: ", 1)[1])
    results = record_of(run_dir)["results"]
    assert sorted(r["capability"] for r in results) == sorted(NAMES)
    assert all(r["n_test"] >= 6 for r in results)
    mctaco = next(r for r in results if r["capability"] == "mctaco")
    assert "w2s_em" in mctaco["metrics"]
    manifest = record_of(run_dir)["manifest"]
    assert manifest["status"] == "finished"
    assert manifest["suite"]["capabilities"][0]["source"] == str(shared_data.resolve() / "gsm8k")
