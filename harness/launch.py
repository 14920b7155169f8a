"""The launch seam: a stage that asks for several ranks runs under ``accelerate launch``.

The worker (which holds the entry's lock) writes an accelerate config for the stage's strategy
(or takes the user's own file), starts one process per rank, and records the config in the
manifest. Every rank runs the stage's runner; only rank 0 writes into the entry being built,
the others into scratch directories that are removed. No rank plans, locks or schedules: the
worker commits the entry once the launcher has exited cleanly.

Strategies: ``ddp`` (a replica per rank), ``fsdp`` (FSDP2 full shard, activation
checkpointing, bf16 mixed precision where the device has it), ``fsdp-offload`` (the same with
parameters and optimizer state on the host) and ``deepspeed`` (ZeRO-3). accelerate runs FSDP and
DeepSpeed only on accelerators: on a CPU the ranks run DDP over gloo, which is how the launch
itself is tested here; the sharded configs are tested as generated files.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.graph import Strategy
    from harness.jobs import Job

SHARDED = ("fsdp", "fsdp-offload", "deepspeed")


def accelerate_config(strategy: Strategy, ranks: int, cuda: bool, bf16: bool) -> dict[str, Any]:
    """The accelerate config (as ``accelerate config`` would write it) for one stage's launch."""
    if strategy in ("auto", "single"):
        strategy = "ddp"  # several ranks with nothing to shard: one replica each
    if strategy in SHARDED and not cuda:
        raise HarnessError(f"strategy {strategy} needs CUDA devices (accelerate shards only on "
                           "accelerators); on a CPU use strategy ddp")
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE", "num_machines": 1, "machine_rank": 0,
        "num_processes": ranks, "use_cpu": not cuda, "main_training_function": "main",
        "mixed_precision": "bf16" if bf16 else "no", "rdzv_backend": "static",
        "same_network": True, "downcast_bf16": "no",
        "distributed_type": {"ddp": "MULTI_GPU" if cuda else "MULTI_CPU",
                             "deepspeed": "DEEPSPEED"}.get(strategy, "FSDP"),
    }
    if strategy.startswith("fsdp"):
        config["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_reshard_after_forward": True,
            "fsdp_activation_checkpointing": True,
            "fsdp_offload_params": strategy == "fsdp-offload",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_state_dict_type": "FULL_STATE_DICT",  # rank 0 saves one ordinary checkpoint
        }
    if strategy == "deepspeed":
        config["deepspeed_config"] = {
            "zero_stage": 3, "zero3_init_flag": True, "zero3_save_16bit_model": True,
            "offload_optimizer_device": "none", "offload_param_device": "none",
            "gradient_clipping": 1.0,
        }
    return config


def launch_config(job: Job) -> tuple[dict[str, Any], Path | None]:
    """The config this stage launches with, and the user's file when they gave one."""
    res = job.spec.resources
    if res.accelerate_config:
        path = Path(res.accelerate_config).expanduser()
        if not path.is_file():
            raise HarnessError(f"{job.spec.label}: accelerate config {path} does not exist; "
                               "fix resources.accelerate_config in the suite")
        import yaml

        return {**yaml.safe_load(path.read_text()), "num_processes": res.ranks}, path
    from harness.devices import gpu_ids

    cuda = bool(gpu_ids())
    return accelerate_config(res.strategy, res.ranks, cuda, cuda and _bf16()), None


def run_ranks(job: Job, inputs: dict[str, Path], out: Path) -> dict[str, Any]:
    """Run ``job``'s stage as ``spec.resources.ranks`` processes; rank 0 fills ``out``.
    Returns what the manifest records of the launch."""
    ranks = job.spec.resources.ranks
    config, user_file = launch_config(job)
    plan = out.parent / f".launch-{job.key}.json"
    config_file = out.parent / f".launch-{job.key}.accelerate.json"
    plan.write_text(json.dumps({"spec": job.spec.model_dump(mode="json"),
                                "inputs": {r: str(p) for r, p in inputs.items()},
                                "out": str(out)}))
    config_file.write_text(json.dumps(config))
    env = dict(os.environ)
    if job.threads:
        share = str(max(1, job.threads // ranks))
        env.update(OMP_NUM_THREADS=share, MKL_NUM_THREADS=share)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file),
           "--num_processes", str(ranks), "--main_process_port", str(_free_port()),
           "-m", "harness.launch", str(plan)]
    try:
        done = subprocess.run(cmd, env=env)
    finally:
        plan.unlink(missing_ok=True)
        config_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise HarnessError(f"{job.spec.label}: {ranks} ranks under accelerate launch failed "
                           f"(exit {done.returncode}); the ranks' output is in the stage's log")
    return {"launcher": "accelerate", "ranks": ranks, "config": config,
            "config_file": str(user_file) if user_file else None}


def _bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _free_port() -> int:
    """A port for the ranks' rendezvous, so concurrent launches on one host never collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(plan_file: str) -> None:
    """One rank: run the stage's runner; ranks other than 0 write into a scratch directory."""
    from harness.graph import StageSpec
    from harness.plugins import registry
    from harness.runners import run

    plan = json.loads(Path(plan_file).read_text())
    spec = StageSpec.model_validate(plan["spec"])
    inputs = {r: Path(p) for r, p in plan["inputs"].items()}
    if int(os.environ.get("RANK", "0")) == 0:
        run(spec, inputs, Path(plan["out"]), registry())
        return
    scratch = Path(tempfile.mkdtemp(prefix="harness-rank-"))
    try:
        run(spec, inputs, scratch, registry())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
