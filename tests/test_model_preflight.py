"""What a run cannot have is refused before any stage runs (issue 36): a model that is neither
on disk, in the Hugging Face cache, nor on a reachable hub, and a suite that needs GPUs on a
machine without them, unless the run says it means to use the CPU."""

from __future__ import annotations

import time

import pytest

from conftest import harness_cli, paper_shaped
from harness import runs, sizing
from harness.errors import HarnessError


def test_the_papers_suite_without_its_models_is_one_line_within_seconds(tmp_path):
    home = tmp_path / "home"
    start = time.monotonic()
    proc = harness_cli("run", "--suite", "multi-capability",
                       env={"HARNESS_HOME": str(home), "HF_HUB_OFFLINE": "1",
                            "HF_HOME": str(tmp_path / "hf")})
    took = time.monotonic() - start
    assert proc.returncode == 2 and took < 10, (took, proc.stderr[-2000:])
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: model Qwen/Qwen1.5-0.5B")
    assert "hf download Qwen/Qwen1.5-0.5B" in proc.stderr and "HF_HOME" in proc.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())  # nothing ran


def test_a_model_in_the_hugging_face_cache_passes_offline(tmp_path, monkeypatch):
    """The check reads the cache as transformers would: a cached config is enough."""
    from harness.resolver import available

    hub = tmp_path / "hf" / "hub"
    snap = hub / "models--org--cached" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (hub / "models--org--cached" / "refs").mkdir()
    (hub / "models--org--cached" / "refs" / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    available("org/cached")
    with pytest.raises(HarnessError, match="org/missing is not in the Hugging Face cache"):
        available("org/missing")


def test_a_suite_that_needs_gpus_is_refused_on_a_cpu_with_the_plans_figures(tmp_path):
    weak, strong = paper_shaped(tmp_path)
    proc = harness_cli("run", "--suite", "quickstart", "--weak", weak, "--strong", strong,
                       env={"HARNESS_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: suite quickstart needs GPUs and this machine has none")
    assert "GPU-hours on one 80 GiB GPU" in line and "--allow-cpu" in line
    assert "--ray-address" in line and "harness plan --suite quickstart" in line


def test_the_gpu_rule_refuses_above_its_limit_only():
    def est(hours: float) -> dict[str, sizing.Estimate]:
        return {"n": sizing.Estimate(node="n", kind="train", label="train ceiling", model="m",
                                     launch="1 GPU", gpus=1, memory_gib=70.0, fits=True,
                                     hours=hours)}

    runs.needs_gpus("small", est(runs.CPU_LIMIT))  # the CPU suites plan far below it
    with pytest.raises(HarnessError, match=r"suite big needs GPUs.*0\.5 GPU-hours.*70 GiB"):
        runs.needs_gpus("big", est(0.5))


def test_allow_cpu_runs_the_graph_as_planned_without_sizing_it(monkeypatch):
    monkeypatch.setattr(runs, "gpu_ids", lambda: [])
    monkeypatch.setattr(runs.sizing, "size", lambda *a, **k: pytest.fail("sized on a CPU run"))
    graph = object()
    assert runs.sized(graph, "m", {}, None, "big", cpu=True) is graph
