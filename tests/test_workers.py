"""Stages in worker processes: the parent stays free of torch, a dead worker loses nothing,
concurrent workers get their share of the cores, and a stage can launch several ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SMALL, fake_suite, record_of, run_dir_of, run_tiny, tiny_suite
from harness.devices import cores
from harness.store import Store
from harness.worker import cpu_kind

pytestmark = pytest.mark.slow


def test_the_parent_imports_neither_torch_nor_vllm_and_each_worker_gets_its_cores(tmp_path):
    """One run with two stages at a time: the harness process never imports torch or vllm,
    and each stage runs in a fresh worker with its share of the cores."""
    suite = tiny_suite(tmp_path, steps=2, **SMALL)
    script = (
        "import sys\n"
        "from harness.cli import main\n"
        f"assert main(['run', '--suite', {str(suite)!r}, '--jobs', '2']) == 0\n"
        "print('HEAVY', sorted(m for m in ('torch', 'vllm', 'transformers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "HARNESS_HOME": str(tmp_path / "home")},
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]
    manifest = record_of(run_dir_of(proc))["manifest"]
    assert manifest["extraction"]["synth_scan"] == ["match"]
    assert manifest["executor"] == {**manifest["executor"], "name": "local", "jobs": 2,
                                    "threads_per_stage": max(1, cores() // 2)}
    # The first seed's data stages run in the harness process, for the preflight; every
    # other stage in a worker.
    here = [s for s in manifest["stages"] if s["pid"] == manifest["pid"]]
    assert here and all(s["stage"] == "data" for s in here)
    computed = [s for s in manifest["stages"] if not s["cached"] and s not in here]
    assert all(s["threads"] == max(1, cores() // 2) for s in computed)
    # The worker reports the threads torch actually had.
    torch_stages = [s for s in computed if s["stage"] in ("train", "decode")]
    assert all(f"({max(1, cores() // 2)} threads" in s["device"] for s in torch_stages)
    # ... and the CPU it ran on: machines whose instructions have one name can differ
    assert all(s["device"].endswith(f"{cpu_kind()})") for s in torch_stages)
    assert len({s["pid"] for s in computed}) == len(computed), "a fresh process per stage"
    # The check can fail: in-process, a stage that computes imports torch in the parent.
    inline = script.replace("'--jobs', '2']) == 0", "'--in-process', '--force', 'eval naive']) == 0")
    inline = subprocess.run([sys.executable, "-c", inline], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "HARNESS_HOME": str(tmp_path / "home")},
                            timeout=900)
    assert "'torch'" in inline.stdout, inline.stderr[-2000:]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_a_run_whose_plugins_load_no_model_starts_its_workers_without_torch(tmp_path):
    """The forkserver imports torch and transformers (about 7 s of a core) only for a run
    whose plugins load models: on the fake backend and trainer no stage's worker has torch,
    so none records a device (``worker._device``)."""
    _, manifest = run_tiny(fake_suite(tmp_path), tmp_path / "home")
    ran = [s for s in manifest["stages"] if not s["cached"] and s["pid"] != manifest["pid"]]
    assert ran and [s["device"] for s in ran] == [""] * len(ran)


def test_a_killed_worker_is_one_error_line_with_its_log_and_leaves_no_entry(tmp_path):
    # the weak model's training sleeps: a window for the kill
    suite = fake_suite(tmp_path, weak_train="seconds: 3")
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "run", "--suite", str(suite)], cwd=ROOT, text=True,
                            env={**os.environ, "HARNESS_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    train = home / "cache" / "train"
    while not (train.is_dir() and list(train.glob(".tmp-*"))):
        assert proc.poll() is None and time.monotonic() < deadline, "no training stage started"
        time.sleep(0.05)
    # The parent's child is the forkserver; its child is the worker training the weak model.
    workers = [w for fs in _children(proc.pid) for w in _children(fs)]
    assert len(workers) == 1, workers
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "train weak" in line and f"pid {workers[0]}" in line and "its log: " in line
    assert Path(line.split("its log: ")[1]).is_file()
    assert not [p for p in train.iterdir() if not p.name.startswith(".")], "no entry for it"
    # The data stages it finished stay cached; the same command resumes.
    _, manifest = run_tiny(suite, home, env={})
    computed = {s["stage"] for s in manifest["stages"] if not s["cached"]}
    assert "data" not in computed and "train" in computed
    assert not list(train.glob(".tmp-*"))


def test_a_worker_whose_harness_process_is_killed_exits(tmp_path):
    suite = tiny_suite(tmp_path, steps=400)
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("harness")
    proc = subprocess.Popen([str(exe), "run", "--suite", str(suite)], cwd=ROOT,
                            env={**os.environ, "HARNESS_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    train = home / "cache" / "train"
    deadline = time.monotonic() + 300
    while not (train.is_dir() and list(train.glob(".tmp-*"))):
        assert proc.poll() is None and time.monotonic() < deadline, "no training stage started"
        time.sleep(0.05)
    (worker,) = [w for fs in _children(proc.pid) for w in _children(fs)]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _running(worker):
        assert time.monotonic() < deadline, "the orphaned worker kept training"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_gloo_ranks_train_one_entry_close_to_one_rank(tmp_path):
    """One sft stage launched as 2 processes (gloo on the CPU) against the same stage as one."""
    from harness.schemas import Suite
    from harness.planner import plan
    from harness.plugins import registry
    from harness.jobs import Job
    from harness.worker import execute
    from harness_plugins.backends.hf import teacher_forced_logprobs
    from harness import outputs

    def suite(ranks: int) -> Suite:
        return Suite.model_validate({
            "name": "launch", "weak": "tiny-weak", "strong": "tiny-strong", "seeds": [0],
            "capabilities": [{"name": "synth_scan",
                              "params": {"labeled": 40, "unlabeled": 400, "test": 60}}],
            "train": {"name": "sft", "params": {"max_steps": 30, "batch_size": 40,
                                                "micro_batch_size": 20, "lr": 3e-3}},
            "resources": {"train": {"ranks": ranks}}})

    def ceiling(ranks: int, root: Path):
        _, graph = plan(suite(ranks), registry(), "hf")
        data, train = [s for s in graph.stages.values()
                       if s.label.startswith(("data", "train ceiling"))]
        assert train.resources.ranks == ranks
        d = execute(Job(spec=data, key=data.key({}), root=str(root)))
        started = time.monotonic()
        t = execute(Job(spec=train, key=train.key({r: d.digest for r in train.inputs}),
                        root=str(root), threads=2, inputs={r: d.entry for r in train.inputs}))
        assert t.error is None, t.error
        if ranks > 1:  # the manifest's record of the launch: accelerate, DDP over gloo
            assert t.launch["launcher"] == "accelerate" and t.launch["ranks"] == ranks
            assert t.launch["config"]["distributed_type"] == "MULTI_CPU"
        assert time.monotonic() - started < 300, "the launch must not hang"
        test = outputs.rows(Path(d.entry), "test")
        model = str(outputs.model_dir(Path(t.entry)))
        scores = teacher_forced_logprobs(model, [r.prompt for r in test], [r.target for r in test])
        return t, sum(scores) / len(scores), test

    one, lp1, test = ceiling(1, tmp_path / "one")
    two, lp2, _ = ceiling(2, tmp_path / "two")
    entries = (tmp_path / "two" / "cache" / "train").iterdir()
    assert sorted(p.name for p in entries if not p.name.startswith(".")) == [two.key]
    assert Store(tmp_path / "two").problem("train", two.key) is None
    assert not list((tmp_path / "two" / "cache" / "train").glob(".tmp-*"))
    from harness.resolver import resolve

    base = teacher_forced_logprobs(resolve("tiny-strong"), [r.prompt for r in test],
                                   [r.target for r in test])
    lp0 = sum(base) / len(base)
    assert lp1 > lp0 + 0.5 and lp2 > lp0 + 0.5, (lp0, lp1, lp2)  # both really trained
    assert abs(lp2 - lp1) < 0.15 * (lp1 - lp0), (lp0, lp1, lp2)


def test_an_effective_batch_that_cannot_be_split_exactly_is_refused():
    from harness.errors import HarnessError
    from harness_plugins.trainers.finetune import accumulation_steps

    assert accumulation_steps(40, 20, 1) == 2 and accumulation_steps(40, 20, 2) == 1
    assert accumulation_steps(40, 5, 8) == 1 and accumulation_steps(40, 10, 4) == 1
    for micro, world in ((8, 4), (8, 8), (20, 4), (40, 2)):
        with pytest.raises(HarnessError, match="cannot be split exactly"):
            accumulation_steps(40, micro, world)


def test_ranks_that_cannot_split_the_batch_are_refused_at_plan_time(tmp_path):
    from harness.errors import HarnessError
    from harness.schemas import Suite
    from harness.planner import plan
    from harness.plugins import registry

    suite = Suite.model_validate({
        "name": "split", "weak": "tiny-weak", "strong": "tiny-strong", "seeds": [0],
        "capabilities": [{"name": "synth_scan"}],
        "train": {"name": "sft", "params": {"batch_size": 40, "micro_batch_size": 8}},
        "resources": {"train": {"ranks": 2}}})
    with pytest.raises(HarnessError, match="train weak .*cannot be split exactly"):
        plan(suite, registry(), "hf")
