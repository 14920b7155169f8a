"""`--executor ray` on a local Ray cluster: the same outputs as the local executor, stages
overlapping in time, and a worker killed mid-stage retried with nothing changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, results_of, run_dir_of, run_tiny, tiny_suite

# A fresh CI venv on 2026-12-01 gave other trained weights under Ray than locally; both tests
# passed in the CI run of 2026-12-02 and here (they were xfail then), the cause unfound. They
# run unmarked, so a recurrence fails CI rather than passing as expected.
pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

METHODS = ("  - {name: naive}\n"
           "  - {name: half, selector: {name: random, params: {ratio: 0.5}}}")


def _keys(manifest) -> dict[str, str]:
    """Stage label -> cache key. Keys chain the digests of every upstream output, so equal
    keys for the final evaluations mean every output along the way was byte-identical."""
    return {s["label"]: s["key"] for s in manifest["stages"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    suite = tiny_suite(folder, methods=METHODS, seeds="[0, 1]", steps=8)
    run_dir, manifest = run_tiny(suite, folder / "home")
    return suite, run_dir, manifest


def test_ray_gives_the_local_outputs_with_stages_overlapping(reference, tmp_path):
    suite, local_dir, local = reference
    run_dir, manifest = run_tiny(suite, tmp_path / "home", "--executor", "ray")
    assert manifest["executor"]["name"] == "ray"
    assert _keys(manifest) == _keys(local)
    assert results_of(run_dir) == results_of(local_dir)
    spans = sorted((s["started"], s["finished"]) for s in manifest["stages"] if not s["cached"])
    overlapping = sum(b[0] < a[1] for a, b in zip(spans, spans[1:]))
    assert overlapping >= 2, spans
    tasks = [s for s in manifest["stages"] if s["pid"] != manifest["pid"]]  # not the preflight's
    assert len({s["pid"] for s in tasks}) == len(tasks) and len(tasks) >= len(manifest["stages"]) - 2


def _ray_tasks() -> list[int]:
    """Pids of Ray workers running a training stage (Ray titles a worker ``ray::<task name>``,
    and each stage's task is named by its label)."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::train "):
                out.append(int(cmdline.parent.name))
        except OSError:
            continue
    return out


def test_a_ray_worker_killed_mid_stage_is_retried_and_nothing_changes(reference, tmp_path):
    suite, local_dir, local = reference
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "run", "--suite", str(suite), "--executor", "ray"],
                            cwd=ROOT, env={**os.environ, "HARNESS_HOME": str(home)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    train = home / "cache" / "train"
    deadline = time.monotonic() + 300
    while not (train.is_dir() and list(train.glob(".tmp-*")) and _ray_tasks()):
        assert proc.poll() is None and time.monotonic() < deadline, "no training stage started"
        time.sleep(0.05)
    victims = _ray_tasks()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    assert "run: " in out, (out[-2000:], err[-2000:])
    run_dir = run_dir_of(subprocess.CompletedProcess([], 0, out, err))

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert not {s["pid"] for s in manifest["stages"]} & set(victims), "killed tasks were rerun"
    assert _keys(manifest) == _keys(local)
    assert results_of(run_dir) == results_of(local_dir)
    assert not list(train.glob(".tmp-*"))
