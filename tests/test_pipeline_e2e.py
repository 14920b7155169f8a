"""End to end on tiny models: a real run, then the same run again doing no work at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import harness_cli, record_of
from harness.store import read_jsonl

pytestmark = pytest.mark.slow

SUITE = """
name: e2e
weak: tiny-weak
strong: tiny-strong
backend: hf
seeds: [0]
mixtures: [joint, single]
capabilities:
  - name: synth_scan
    params: {{labeled: 60, unlabeled: 80, test: 24}}
  - name: synth_arith
    params: {{labeled: 60, unlabeled: 80, test: 24}}
methods:
{methods}
train:
  name: sft
  params: {{max_steps: 3, batch_size: 20, micro_batch_size: 20, lr: 3.0e-3}}
decode: {{max_new_tokens: 24}}  # short for speed: some targets are cut, so
target_check: warn              # the preflight only warns
format_control: false  # for speed: the fake suite, the smoke run and the testbed run it
"""
NAIVE = "  - {name: naive, selector: {name: all}}\n"
EXTRA = "  - {name: naive_lr, selector: {name: all}, trainer: {name: sft, params: {lr: 1.0e-3}}}\n"


def _run(tmp_path: Path, methods: str, home: Path):
    suite = tmp_path / "e2e.yaml"
    suite.write_text(SUITE.format(methods=methods))
    proc = harness_cli("run", "--suite", str(suite), env={"HARNESS_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1].split("run: ", 1)[1])
    manifest = record_of(run_dir)["manifest"]
    return proc, run_dir, manifest


def _computed(manifest) -> list[str]:
    return [s["label"] for s in manifest["stages"] if not s["cached"]]


def test_run_then_rerun_does_no_work_then_a_new_method_runs_alone(tmp_path):
    home = tmp_path / "home"
    proc, run_dir, manifest = _run(tmp_path, NAIVE, home)
    assert manifest["status"] == "finished"
    assert manifest["suite"]["name"] == "e2e" and manifest["packages"]["torch"]
    assert {p["name"] for p in manifest["plugins"]} >= {"synth_scan", "all", "sft", "hf"}
    computed = _computed(manifest)
    # 2 data + joint group (12 stages: 8 and a grade for each of 4 decodes) + two single
    # groups (12 each) + the untuned strong and weak models at 0 and 3 shots (8, once for
    # both mixtures)
    assert len(computed) == 46
    assert sum(label.startswith("train ") for label in computed) == 9
    results = record_of(run_dir)["results"]
    assert {(r["mixture"], r["capability"]) for r in results} == {
        (m, c) for m in ("joint", "single") for c in ("synth_scan", "synth_arith")
    }
    for r in results:
        assert 0.0 <= r["weak"] <= 1.0 and r["n_test"] == 24
        assert r["pgr"] is not None or "ceiling" in r["pgr_note"]
    assert "weak" in proc.stdout and "pgr" in proc.stdout
    preds = list((run_dir / "predictions").glob("*.jsonl"))
    assert len(preds) == 16 and all(  # 12 grade stages and 4 of the baselines
        read_jsonl(p)[0]["completion"] is not None for p in preds)

    # Each training stage logged its loss at every optimizer step (max_steps: 3).
    for s in manifest["stages"]:
        if s["stage"] == "train":
            curve = read_jsonl(home / "cache" / "train" / s["key"] / "history.jsonl")
            assert [h["step"] for h in curve] == [1, 2, 3] and all(h["loss"] > 0 for h in curve)

    # The same command again: nothing is trained or decoded, results are identical, and the
    # cached run's page draws every training stage's curve from the cache.
    _, run_dir2, manifest2 = _run(tmp_path, NAIVE, home)
    assert _computed(manifest2) == []
    strip = lambda rows: [{k: v for k, v in r.items() if k != "run_id"} for r in rows]  # noqa
    assert strip(record_of(run_dir2)["results"]) == strip(results)
    shown = harness_cli("show", str(run_dir2), "--html", env={"HARNESS_HOME": str(home)})
    assert shown.returncode == 0, shown.stderr[-2000:]
    page = (run_dir2 / "page.html").read_text()
    assert all(f'id="curves-{k}"' in page for k in range(9)) and "train weak [" in page

    # A new method reuses the weak model, the labels, the ceilings and (same selector) the
    # selection: only its training, evaluation and grading run, once per group. A grade is
    # served instead where its evaluation's completions are byte-identical to ones already
    # graded (keys chain outputs, not labels): seen with one thread per stage.
    _, _, manifest3 = _run(tmp_path, NAIVE + EXTRA, home)
    new = _computed(manifest3)
    assert all("naive_lr" in label for label in new), new
    assert [label.split(" ")[0] for label in new].count("train") == 3
    assert [label.split(" ")[0] for label in new].count("eval") == 3
    graded = {s["key"] for s in manifest3["stages"] if s["label"].startswith("grade ")
              and "naive_lr" not in s["label"]}
    served = [s for s in manifest3["stages"] if s["label"].startswith("grade eval naive_lr")
              and s["cached"]]
    assert all(s["key"] in graded for s in served), served


def test_second_run_calls_no_trainer_and_no_decoder(tmp_path, monkeypatch, capsys):
    """In-process: after a first run, the real train/generate functions must not be called."""
    from harness.cli import main
    from harness_plugins.backends.hf import HFBackend
    from harness_plugins.selectors.basic import All
    from harness_plugins.trainers.sft import SFT

    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.format(methods=NAIVE).replace("[joint, single]", "[joint]"))
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    calls = {"train": 0, "generate": 0}
    real_train, real_generate = SFT.train, HFBackend.generate

    def counting_train(self, *a, **k):
        calls["train"] += 1
        return real_train(self, *a, **k)

    def counting_generate(self, *a, **k):
        calls["generate"] += 1
        return real_generate(self, *a, **k)

    pools = []
    real_select = All.select

    def recording_select(self, pool, ctx):
        pools.append(pool)
        return real_select(self, pool, ctx)

    monkeypatch.setattr(SFT, "train", counting_train)
    monkeypatch.setattr(HFBackend, "generate", counting_generate)
    monkeypatch.setattr(All, "select", recording_select)
    assert main(["run", "--suite", str(suite), "--in-process"]) == 0
    # 4 decode stages and 4 of the untuned baselines, x 2 capabilities
    assert calls == {"train": 3, "generate": 16}
    # The selector sees prompts and weak labels, never the unlabeled split's gold answers.
    (pool,) = pools
    assert len(pool) == 160
    assert all(item.model_dump(exclude_none=True).keys() == {"id", "capability", "prompt", "label"}
               for item in pool)
    calls.update(train=0, generate=0)
    assert main(["run", "--suite", str(suite), "--in-process"]) == 0
    assert calls == {"train": 0, "generate": 0}
    assert "synth_arith" in capsys.readouterr().out
    # --force recomputes exactly the named stage.
    assert main(["run", "--suite", str(suite), "--in-process", "--force", "eval naive"]) == 0
    assert calls == {"train": 0, "generate": 2}
