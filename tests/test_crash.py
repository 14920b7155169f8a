"""Crash safety: SIGKILL at several points, then the same command finishes with the same
results as an uninterrupted run; two runs sharing one home compute each stage once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, record_of
from harness.store import Store

pytestmark = pytest.mark.slow

SUITE = """
name: crash
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
  - {name: half, selector: {name: random, params: {ratio: 0.5}}}
train:
  name: sft
  params: {max_steps: 6, batch_size: 20, micro_batch_size: 20, lr: 3.0e-3}
decode: {max_new_tokens: 24}  # short for speed: the preflight only warns
target_check: warn
"""


def _start(suite: Path, home: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("harness")
    return subprocess.Popen([str(exe), "run", "--suite", str(suite)], cwd=ROOT,
                            env={**os.environ, "HARNESS_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> Path:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return Path(out.strip().splitlines()[-1].split("run: ", 1)[1])


def _results(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "run_id"}
            for r in record_of(run_dir)["results"]]


def _wait(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 600
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _stages_done(home: Path) -> int:
    manifests = list((home / "runs").glob("*/record.json"))
    counts = []
    for m in manifests:
        try:
            counts.append(len(json.loads(m.read_text())["manifest"]["stages"]))
        except (ValueError, KeyError):
            counts.append(0)
    return max(counts, default=0)


def _writing(home: Path, kind: str) -> bool:
    return any((home / "cache" / kind).glob(".tmp-*")) if (home / "cache" / kind).is_dir() \
        else False


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """The suite, and the home and results of one uninterrupted run of it (tests compare with
    its results, or start from a copy of its home)."""
    folder = tmp_path_factory.mktemp("crash")
    suite = folder / "crash.yaml"
    suite.write_text(SUITE)
    home = folder / "reference"
    return suite, home, _results(_finish(_start(suite, home)))


def test_sigkill_at_several_points_then_resume_gives_identical_results(reference, tmp_path):
    suite, _, results = reference
    home = tmp_path / "killed"
    # mid-training (the weak model), mid-decode, and between stages (three stages past the
    # furthest an earlier run got, so this run has written its manifest)
    done = 0
    points = [("inside the first training stage", lambda: _writing(home, "train")),
              ("inside a decoding stage", lambda: _writing(home, "decode")),
              ("three stages past the earlier runs", lambda: _stages_done(home) >= done + 3)]
    for what, condition in points:
        done = _stages_done(home)
        proc = _start(suite, home)
        _wait(condition, proc, what)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_dir = _finish(_start(suite, home))
    assert _results(run_dir) == results
    store = Store(home)
    entries = [p for p in (home / "cache").glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    assert entries and all(store.problem(p.parent.name, p.name) is None for p in entries)
    assert not list((home / "cache").glob("*/.tmp-*")), "no temporary may outlive the runs"
    statuses = [json.loads(m.read_text())["manifest"]["status"] for m in (home / "runs").glob("*/record.json")]
    assert statuses.count("finished") == 1 and statuses.count("running") == 3
    shown = subprocess.run([str(Path(sys.executable).with_name("harness")), "runs"], cwd=ROOT,
                           env={**os.environ, "HARNESS_HOME": str(home)}, capture_output=True,
                           text=True).stdout
    assert shown.count("interrupted") == 3


def test_two_runs_sharing_a_home_compute_each_stage_once(reference, tmp_path):
    suite, _, results = reference
    home = tmp_path / "shared"
    first, second = _start(suite, home), _start(suite, home)
    dirs = [_finish(first), _finish(second)]
    assert _results(dirs[0]) == _results(dirs[1]) == results
    computed: dict[str, int] = {}
    for d in dirs:
        for s in record_of(d)["manifest"]["stages"]:
            computed[s["key"]] = computed.get(s["key"], 0) + (not s["cached"])
    assert set(computed.values()) == {1}, "every stage computed by exactly one of the runs"


def test_a_damaged_entry_is_recomputed_with_a_warning(reference, tmp_path):
    suite, finished, before = reference
    home = tmp_path / "home"
    shutil.copytree(finished, home)
    scores = sorted((home / "cache" / "grade").glob("*/scores.json"))[0]
    scores.write_text(scores.read_text().replace("0", "9", 1))
    proc = _start(suite, home)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "damaged" in err and "recomputing" in err
    run_dir = Path(out.strip().splitlines()[-1].split("run: ", 1)[1])
    assert _results(run_dir) == before
