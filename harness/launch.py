"""The launch seam: a stage that asks for several ranks runs under torchrun inside its worker.

The worker (which holds the entry's lock) starts ``torchrun --standalone`` with one process per
rank; every rank runs the stage's runner, and only rank 0 writes into the entry being built, the
others into scratch directories that are removed. No rank plans, locks or schedules: the
worker commits the entry once torchrun has exited cleanly. On GPUs each rank takes one device
(torchrun's ``LOCAL_RANK``); on a CPU the ranks talk over gloo, which is how this is tested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.worker import Job


def run_ranks(job: Job, inputs: dict[str, Path], out: Path) -> None:
    """Run ``job``'s stage as ``spec.resources.ranks`` processes; rank 0 fills ``out``."""
    ranks = job.spec.resources.ranks
    plan = out.parent / f".launch-{job.key}.json"
    plan.write_text(json.dumps({"spec": job.spec.model_dump(mode="json"),
                                "inputs": {r: str(p) for r, p in inputs.items()},
                                "out": str(out)}))
    env = dict(os.environ)
    if job.threads:
        share = str(max(1, job.threads // ranks))
        env.update(OMP_NUM_THREADS=share, MKL_NUM_THREADS=share)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
           f"--nproc-per-node={ranks}", "-m", "harness.launch", str(plan)]
    try:
        done = subprocess.run(cmd, env=env)
    finally:
        plan.unlink(missing_ok=True)
    if done.returncode != 0:
        raise HarnessError(f"{job.spec.label}: {ranks} ranks under torchrun failed (exit "
                           f"{done.returncode}); the ranks' output is in the stage's log")


def main(plan_file: str) -> None:
    """One rank: run the stage's runner; ranks other than 0 write into a scratch directory."""
    from harness.graph import StageSpec
    from harness.runners import run

    plan = json.loads(Path(plan_file).read_text())
    spec = StageSpec.model_validate(plan["spec"])
    inputs = {r: Path(p) for r, p in plan["inputs"].items()}
    if int(os.environ.get("RANK", "0")) == 0:
        run(spec, inputs, Path(plan["out"]))
        return
    scratch = Path(tempfile.mkdtemp(prefix="harness-rank-"))
    try:
        run(spec, inputs, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
