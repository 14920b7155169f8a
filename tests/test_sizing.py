"""`harness plan` and the sizing behind it: model shapes, memory, launches, schedules, and
`harness run` refusing a stage that cannot fit before any compute."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from harness import sizing
from harness.graph import Graph, StageSpec
from harness.launch import accelerate_config
from conftest import harness_cli, paper_shaped

PAPER = ("--weak", "Qwen/Qwen1.5-0.5B", "--strong", "Qwen/Qwen1.5-7B")
PAPER_SHAPED = """
name: paper-shaped
weak: Qwen/Qwen1.5-0.5B
strong: Qwen/Qwen1.5-7B
seeds: [0]
capabilities:
  - {name: synth_scan, params: {labeled: 2000, unlabeled: 6000, test: 1000}}
  - {name: synth_arith, params: {labeled: 2000, unlabeled: 6000, test: 1000}}
methods:
  - {name: naive, selector: {name: all}}
train: {name: sft, params: {epochs: 2, batch_size: 40, micro_batch_size: 4, lr: 1.0e-5}}
"""


def test_parameter_counts_match_the_models():
    assert sizing.shape("Qwen/Qwen1.5-7B").params == pytest.approx(7.72e9, rel=0.005)
    assert sizing.shape("Qwen/Qwen1.5-0.5B").params == pytest.approx(0.62e9, rel=0.01)


@pytest.mark.slow
def test_a_tiny_models_count_is_what_torch_counts_from_a_skeleton_never_pretrained(
        tmp_path, monkeypatch):
    """Sizing reads a tiny model's config and tokenizer from a skeleton (no weights, no
    pretraining); its count is what torch counts, its tokenizer the built model's."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from harness.resolver import resolve, skeleton
    from harness.tinymodels import TINY

    monkeypatch.setenv("HARNESS_MODELS", str(tmp_path))
    for name in TINY:
        folder = Path(skeleton(name))
        assert folder.name.startswith(".skeleton-") and not list(folder.glob("*.safetensors"))
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
        assert sizing.shape(name).params == sum(p.numel() for p in model.parameters()), name
    # Built for real (two pretraining steps, to be quick), its tokenizer is the skeleton's.
    monkeypatch.setitem(TINY, "tiny-weak", TINY["tiny-weak"].model_copy(
        update={"pretrain_steps": 2}))
    skeleton("tiny-weak")
    built = Path(resolve("tiny-weak"))
    assert (built / "tokenizer.json").read_bytes() == \
        (tmp_path / f".skeleton-{built.name}" / "tokenizer.json").read_bytes()
    assert skeleton("tiny-weak") == str(built)  # a built model serves as its own skeleton


@pytest.mark.slow
def test_a_skeleton_is_made_apart_so_the_harness_process_never_imports_torch(tmp_path):
    """The run's checks read a tiny model's skeleton before any stage; making one needs torch
    and transformers, which the harness process must not import (its stages' workers do)."""
    import subprocess
    import sys

    code = ("import sys\nfrom harness.resolver import skeleton\n"
            "print(skeleton('tiny-weak'))\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "HARNESS_MODELS": str(tmp_path)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder, heavy = proc.stdout.strip().splitlines()[-2:]
    assert (Path(folder) / "config.json").is_file() and heavy == "[]"


def test_memory_falls_with_shards_and_lora_and_checkpointing():
    s = sizing.shape("Qwen/Qwen1.5-7B")
    kw = dict(micro=4, seq=512, lora=None, checkpointing=False)
    one, eight = sizing.train_memory(s, shards=1, **kw), sizing.train_memory(s, shards=8, **kw)
    assert one / 2**30 > 120 and eight < one / 4  # fp32 weights + grads + AdamW: 16 B/param
    lora = sizing.train_memory(s, shards=1, **{**kw, "lora": {"r": 16}})
    assert lora / 2**30 < 80 < one / 2**30
    # The optimizer step's fp32 temporary (4 B per trained parameter) sets the peak when the
    # activations are small; checkpointing lowers it only where the activations dominate.
    assert one >= 20 * s.params
    ckpt = sizing.train_memory(s, shards=1, **{**kw, "checkpointing": True})
    assert ckpt == one
    big = {**kw, "micro": 16, "seq": 2048}
    assert sizing.train_memory(s, shards=1, **{**big, "checkpointing": True}) < \
        sizing.train_memory(s, shards=1, **big)


def _spec(name: str, *inputs: str) -> StageSpec:
    return StageSpec(kind="train", label=name, params={"n": name},
                     inputs={f"in{i}": u for i, u in enumerate(inputs)})


def _graph(*specs: StageSpec) -> Graph:
    g = Graph()
    for s in specs:
        g.add(s)
    return g


def _est(g: Graph, gpus: dict[str, int]) -> dict[str, sizing.Estimate]:
    return {n: sizing.Estimate(node=n, kind="train", label=s.label, model="m", launch="",
                               gpus=gpus.get(s.label, 1), memory_gib=1, fits=True, hours=1.0)
            for n, s in g.stages.items()}


def test_schedule_runs_independent_stages_side_by_side_and_chains_in_order():
    a, b = _spec("a"), _spec("b")
    c = _spec("c", a.id, b.id)
    g = _graph(a, b, c)
    two = sizing.Machine(gpus=2, gpu_memory=80)
    assert sizing.schedule(g, _est(g, {}), two) == 2.0  # a and b together, then c
    assert sizing.schedule(g, _est(g, {}), two.model_copy(update={"gpus": 1})) == 3.0
    assert sizing.schedule(g, _est(g, {}), two.model_copy(update={"jobs": 1})) == 3.0
    assert sizing.schedule(g, _est(g, {"a": 2}), two) == 3.0  # a takes both GPUs
    assert sizing.critical_path(g, _est(g, {})) == 2.0


def test_the_accelerate_configs_are_accelerates_own(tmp_path):
    """Each generated config loads through accelerate's own config loader."""
    from accelerate.commands.config.config_args import load_config_from_file

    from harness.errors import HarnessError

    fsdp = accelerate_config("fsdp", 8, cuda=True, bf16=True)
    assert fsdp["distributed_type"] == "FSDP" and fsdp["mixed_precision"] == "bf16"
    assert fsdp["fsdp_config"]["fsdp_version"] == 2
    assert fsdp["fsdp_config"]["fsdp_activation_checkpointing"] is True
    assert fsdp["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert accelerate_config("fsdp-offload", 2, True, True)["fsdp_config"]["fsdp_offload_params"]
    ds = accelerate_config("deepspeed", 4, cuda=True, bf16=True)
    assert ds["distributed_type"] == "DEEPSPEED" and ds["deepspeed_config"]["zero_stage"] == 3
    assert accelerate_config("ddp", 2, cuda=False, bf16=False)["distributed_type"] == "MULTI_CPU"
    for i, config in enumerate((fsdp, ds, accelerate_config("auto", 2, True, False))):
        (tmp_path / f"{i}.json").write_text(json.dumps(config))
        loaded = load_config_from_file(str(tmp_path / f"{i}.json"))
        assert loaded.num_processes == config["num_processes"]
        assert str(loaded.distributed_type).endswith(config["distributed_type"])
    with pytest.raises(HarnessError, match="needs CUDA devices"):
        accelerate_config("fsdp", 2, cuda=False, bf16=False)


def test_plan_sizes_the_paper_for_eight_gpus_and_refuses_7b_full_tuning_on_one(tmp_path):
    env = {"HARNESS_HOME": str(tmp_path)}
    suite = tmp_path / "paper.yaml"
    suite.write_text(PAPER_SHAPED)
    eight = harness_cli("plan", "--suite", str(suite), "--gpus", "8",
                        "--gpu-memory", "80", env=env, check=True).stdout
    rows = {line.split()[0] + " " + line.split()[1]: line for line in eight.splitlines()
            if line.startswith(("train ", "decode "))}
    assert "fsdp x" in rows["train Qwen/Qwen1.5-7B"] and "fits" in rows["train Qwen/Qwen1.5-7B"]
    assert "1 GPU" in rows["train Qwen/Qwen1.5-0.5B"]
    assert "GPU-hours" in eight and "critical path" in eight and "TB written without gc" in eight
    one = harness_cli("plan", "--suite", str(suite), "--gpus", "1",
                      "--gpu-memory", "80", env=env, check=True).stdout
    train = next(line for line in one.splitlines() if line.startswith("train    Qwen/Qwen1.5-7B"))
    assert "does not fit on 1 x 80 GiB: use LoRA" in train
    # quickstart's batch (20 in micro-batches of 20) cannot be split over GPUs: it says so.
    quick = harness_cli("plan", "--suite", "quickstart", *PAPER, "--gpus", "8",
                        "--gpu-memory", "80", env=env, check=True).stdout
    assert "splits batch_size 20 exactly into micro-batches of 20" in quick


def test_fit_gives_each_stage_its_launch(tmp_path):
    """Full 7B tuning is sharded over the fewest GPUs that hold it and split its batch; with
    LoRA it fits one GPU."""
    from harness.schemas import Suite
    from harness.planner import plan
    from harness.plugins import registry
    from harness.runs import apply_overrides, find_suite
    from harness.preflight import data_entries
    from harness.store import Store

    reg = registry()
    suite = apply_overrides(Suite.from_file(find_suite("quickstart")), reg,
                            weak=PAPER[1], strong=PAPER[3])
    paper = {**suite.train.params, "batch_size": 40, "micro_batch_size": 4}
    suite = suite.model_copy(update={"train": suite.train.model_copy(update={"params": paper})})
    _, graph = plan(suite, reg, "vllm")
    est = sizing.size(graph, data_entries(graph, Store(tmp_path)), sizing.Machine(gpus=8, gpu_memory=80),
                      suite.strong, reg)
    full = [e for e in est.values() if e.kind == "train" and e.model.endswith("7B")]
    fitted = sizing.fit(graph, est)
    for e in full:
        res = fitted.stages[e.node].resources
        assert (res.strategy, res.gpus, res.ranks) == ("fsdp", 2, 2), e.launch
    suite = suite.model_copy(update={"train": suite.train.model_copy(
        update={"params": {**paper, "lora": {}}})})
    _, graph = plan(suite, reg, "vllm")
    est = sizing.size(graph, data_entries(graph, Store(tmp_path)), sizing.Machine(gpus=1, gpu_memory=80),
                      suite.strong, reg)
    seven = [e for e in est.values() if e.kind == "train" and e.model.endswith("7B")]
    assert seven and all(e.fits and e.launch == "LoRA, 1 GPU" for e in seven)
    fitted = sizing.fit(graph, est)
    assert all(fitted.stages[e.node].resources.gpus == 1 for e in seven)


def test_sizing_asks_the_trainer_for_its_footprint_and_reads_none_of_its_params(
        tmp_path, monkeypatch):
    """What ``footprint()`` says decides the launch: a trainer whose params name no LoRA but
    whose footprint does is sized as LoRA; one that declares no footprint gets the defaults."""
    from harness import Footprint
    from harness.footprint import footprint_of
    from harness.planner import plan
    from harness.plugins import registry
    from harness.runs import apply_overrides, find_suite
    from harness.schemas import Suite
    from harness.preflight import data_entries
    from harness.store import Store
    from harness_plugins.trainers.sft import SFT

    reg = registry()
    suite = apply_overrides(Suite.from_file(find_suite("quickstart")), reg,
                            weak=PAPER[1], strong=PAPER[3])
    _, graph = plan(suite, reg, "vllm")
    monkeypatch.setattr(SFT, "footprint", lambda self: Footprint(lora_rank=8))
    est = sizing.size(graph, data_entries(graph, Store(tmp_path)), sizing.Machine(gpus=1, gpu_memory=80),
                      suite.strong, reg)
    seven = [e for e in est.values() if e.kind == "train" and e.model.endswith("7B")]
    assert seven and all(e.launch == "LoRA, 1 GPU" for e in seven)
    assert footprint_of(object()) == Footprint()


def test_run_refuses_a_stage_that_cannot_fit_before_any_compute(tmp_path):
    """On a (faked) one-GPU machine of 80 GiB, full fine-tuning of a 7B model is refused with
    the fix named, and no model stage ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\ncase \"$1\" in -L) echo 'GPU 0: Fake (UUID: x)';; "
                   "*) echo '0, 81920';; esac\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", HARNESS_HOME=str(tmp_path / "home"))
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("harness")
    weak, strong = paper_shaped(tmp_path)  # there for the model check, sized as the paper's
    proc = subprocess.run([str(exe), "run", "--suite", "quickstart", "--weak", weak, "--strong",
                           strong, "--backend", "hf"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: train ceiling") and "use LoRA" in last, last
    cache = tmp_path / "home" / "cache"
    assert not (cache / "train").exists() and not (cache / "decode").exists()
    assert json.loads(json.dumps(sorted(p.name for p in cache.iterdir()))) == ["data"]


def test_a_users_accelerate_config_is_used_with_the_stages_ranks(tmp_path):
    from harness.errors import HarnessError
    from harness.graph import Resources
    from harness.launch import launch_config
    from harness.jobs import Job

    mine = tmp_path / "fsdp.yaml"
    mine.write_text("distributed_type: FSDP\nnum_processes: 16\nmixed_precision: bf16\n"
                    "fsdp_config: {fsdp_version: 2, fsdp_offload_params: true}\n")
    spec = _spec("t").model_copy(update={"resources": Resources(
        gpus=4, ranks=4, accelerate_config=str(mine))})
    config, path = launch_config(Job(spec=spec, key="k", root=str(tmp_path)))
    assert path == mine and config["num_processes"] == 4
    assert config["fsdp_config"]["fsdp_offload_params"] is True
    gone = spec.model_copy(update={"resources": Resources(
        ranks=2, accelerate_config=str(tmp_path / "missing.yaml"))})
    with pytest.raises(HarnessError, match="missing.yaml does not exist"):
        launch_config(Job(spec=gone, key="k", root=str(tmp_path)))


def test_plan_applies_a_gpu_calibration_and_says_a_cpu_one_is_not_applied(tmp_path):
    env = {"HARNESS_HOME": str(tmp_path)}
    suite = tmp_path / "paper.yaml"
    suite.write_text(PAPER_SHAPED)
    args = ("plan", "--suite", str(suite), "--gpus", "8", "--gpu-memory", "80")

    def rows(out: str) -> dict[str, list[str]]:
        return {" ".join(line.split()[:2]): line.split() for line in out.splitlines()
                if line.startswith(("train ", "decode "))}

    plain = harness_cli(*args, env=env, check=True).stdout
    ratios = {"memory_ratio": 1.5, "step_ratio": 2.0, "decode_ratio": 3.0}
    for device, applied in (("NVIDIA H200", True), ("CPU (x86_64, 2 threads)", False)):
        path = tmp_path / f"cal-{applied}.json"
        path.write_text(json.dumps({"device": device, "models": {"Qwen/Qwen1.5-0.5B": ratios}}))
        out = harness_cli(*args, "--calibration", str(path), env=env, check=True).stdout
        assert f"measured on {device}" in out
        assert ("not applied" in out) is not applied
        before, after = rows(plain)["train Qwen/Qwen1.5-0.5B"], rows(out)["train Qwen/Qwen1.5-0.5B"]
        memory = float(after[-3]) / float(before[-3])  # the GiB/GPU column
        assert memory == pytest.approx(1.5 if applied else 1.0, rel=0.01), (before, after)
        assert rows(out)["train Qwen/Qwen1.5-7B"] == rows(plain)["train Qwen/Qwen1.5-7B"]
    bad = harness_cli(*args, "--calibration", str(tmp_path / "missing.json"), env=env)
    assert bad.returncode == 2 and "bench/calibrate.py --out" in bad.stderr
