"""The GPU path on a GPU: a bf16 ``sft`` stage through a worker, LoRA on CUDA, the ``hf``
backend's greedy outputs on CUDA against the CPU's, GPU memory given back when a worker
exits, and a suite under ``--executor ray`` computing on the GPU with the local executor's
results. Marked ``gpu``; without CUDA each skips, saying so (`pytest -m gpu`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import harness_cli, record_of, results_of, run_dir_of, run_tiny


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(
    not _cuda(), reason="no CUDA device here: the GPU path runs only where torch sees a GPU "
                        "(run `pytest -m gpu` on one)")]

SUITE = """
name: gpu
weak: tiny-weak
strong: {strong}
backend: hf
seeds: [0]
mixtures: [joint]
capabilities: [{{name: synth_scan, params: {{labeled: 40, unlabeled: 40, test: 16}}}}]
methods: [{{name: naive}}]
train: {{name: sft, params: {{max_steps: 2, batch_size: 8, micro_batch_size: 8}}}}
decode: {{max_new_tokens: 24}}
target_check: warn
"""


def _bf16_copy(model: str, out: Path) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16).save_pretrained(out)
    AutoTokenizer.from_pretrained(model).save_pretrained(out)
    return str(out)


def test_a_bf16_sft_stage_through_a_worker_keeps_bf16(tiny_models, tmp_path):
    from safetensors import safe_open

    strong = _bf16_copy(tiny_models["tiny-strong"], tmp_path / "bf16")
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(strong=strong))
    proc = harness_cli("run", "--suite", str(suite), env={"HARNESS_HOME": str(tmp_path / "h")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = record_of(run_dir_of(proc))["manifest"]
    (ceiling,) = [s for s in manifest["stages"] if s["label"].startswith("train ceiling")]
    assert "cuda" in ceiling["device"].lower() or "nvidia" in ceiling["device"].lower(), ceiling
    entry = tmp_path / "h" / "cache" / "train" / ceiling["key"]
    (weights,) = entry.rglob("*.safetensors")
    with safe_open(str(weights), "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.bfloat16"}


def test_lora_trains_on_cuda(tiny_models, tmp_path):
    from harness import TrainContext, TrainExample
    from harness.plugins import registry

    data = [TrainExample(prompt=f"q{i}:", target=f" a{i}") for i in range(16)]
    trainer = registry().make("trainers", "sft", {
        "max_steps": 2, "batch_size": 8, "micro_batch_size": 8, "lora": {"r": 4}})
    out = trainer.train(tiny_models["tiny-strong"], data, tmp_path / "model",
                        TrainContext(seed=0, work_dir=tmp_path / "work"))
    assert list(Path(out).glob("*.safetensors"))


def test_hf_greedy_on_cuda_equals_the_cpu(trained_tiny):
    code = ("import json, sys; from harness import DecodeConfig; "
            "from harness.plugins import registry; from harness_plugins.capabilities.quick "
            "import SynthScan; rows = SynthScan({'labeled': 8, 'unlabeled': 8, 'test': 32})"
            ".load(0).test; b = registry().make('backends', 'hf', {'dtype': 'float32'}); "
            "print(json.dumps([g.text for g in b.complete(sys.argv[1], [r.prompt for r in "
            "rows], DecodeConfig(max_new_tokens=24))]))")

    def outputs(visible: str | None) -> list[str]:
        env = {**os.environ}
        if visible is not None:
            env["CUDA_VISIBLE_DEVICES"] = visible
        proc = subprocess.run([sys.executable, "-c", code, trained_tiny], capture_output=True,
                              text=True, env=env, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    assert outputs(None) == outputs("")


def test_gpu_memory_is_back_after_a_worker_exits(tiny_models, tmp_path):
    import torch

    free_before, _ = torch.cuda.mem_get_info()
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(strong="tiny-strong"))
    proc = harness_cli("run", "--suite", str(suite), env={"HARNESS_HOME": str(tmp_path / "h")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    free_after, _ = torch.cuda.mem_get_info()
    assert free_before - free_after < 64 * 2**20, (free_before, free_after)


def test_a_suite_under_ray_computes_on_the_gpu_with_the_local_executors_results(
        tiny_models, tmp_path):
    """Ray's own GPU accounting (each stage a task with its ``num_gpus``, Ray setting
    ``CUDA_VISIBLE_DEVICES``) puts every model stage on the GPU, as the local executor does,
    and the results are the same."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(strong="tiny-strong"))
    runs = {executor: run_tiny(suite, tmp_path / executor, "--executor", executor)
            for executor in ("local", "ray")}
    for executor, (_, manifest) in runs.items():  # grading and selection need no GPU, get none
        ran = [s for s in manifest["stages"]
               if s["stage"] in ("train", "decode") and not s["cached"]]
        assert ran and all("cuda" in s["device"] for s in ran), (executor, ran)
        if executor == "ray":
            assert all(s["cluster_node"] for s in ran), ran
    assert results_of(runs["ray"][0]) == results_of(runs["local"][0])
