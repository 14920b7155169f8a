"""The quickstart sent to TensorBoard, MLflow and W&B, then again from a rerun served wholly
from the cache: every curve, accuracy and summary figure read back from each tracker's files
with the readers of ``tests/test_track.py``, against what the run stored, and the time sending
took (``harness show RUN --log-to``, once per tracker).

    python bench/trackers.py [--suite quickstart] [--home DIR]

Prints one table; a fresh ``--home`` (the default) makes the first run compute every stage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_track import close, mlflow, tensorboard, wandb  # noqa: E402

from harness import record, track  # noqa: E402
from harness.store import Store  # noqa: E402

TRACKERS = "tensorboard,mlflow,wandb"


def harness(*args: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["harness", *args], env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return time.perf_counter() - start, proc.stdout


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--suite", default="quickstart")
    p.add_argument("--home", default=None)
    args = p.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="trackers-"))
    env = {**os.environ, "HARNESS_HOME": str(home)}
    for var in ("MLFLOW_TRACKING_URI", "WANDB_MODE", "WANDB_PROJECT"):
        env.pop(var, None)
    rows = []
    for what in ("first run", "cached rerun"):
        took, out = harness("run", "--suite", args.suite, "--log-to", TRACKERS, env=env)
        run_dir = Path(out.strip().splitlines()[-1].split("run: ", 1)[1])
        run = record.load(run_dir)
        computed = sum(not s.cached for s in run.manifest.stages)
        sent = track.series(run, Store(home))
        totals = track.summary(run)
        curves = {n: v for n, v in sent.items() if n.startswith("train/")}
        run_id = run.manifest.run_id
        tb = tensorboard(home, run_id)
        tb_ok = close(tb, sent) and close(tb, {n: [(0, v)] for n, v in totals.items()})
        ml_ok = mlflow(home, run_id, list(sent), experiment=run.manifest.suite.name) == sent
        logged, summary = wandb(home, run_id)
        wb_ok = logged == sent and all(summary[n] == v for n, v in totals.items())
        resend = {}
        for name in TRACKERS.split(","):
            resend[name], _ = harness("show", run_id, "--log-to", name, env=env)
        rows.append((what, f"{took:.1f}", computed, len(run.manifest.stages), len(curves),
                     sum(map(len, curves.values())), len(sent) - len(curves), len(totals),
                     tb_ok, ml_ok, wb_ok, *(f"{resend[n]:.1f}" for n in TRACKERS.split(","))))
        if what == "first run":
            first = sent
        else:
            rows.append(("series identical to the first run's", sent == first))
    head = ("run", "wall s (run + send)", "stages computed", "stages", "train series",
            "train points", "eval series", "summary figures", "tensorboard ok", "mlflow ok",
            "wandb ok", "resend tb s", "resend mlflow s", "resend wandb s")
    print("\t".join(head))
    for row in rows:
        print("\t".join(map(str, row)))


if __name__ == "__main__":
    main()
