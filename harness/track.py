"""A finished run sent to the experiment trackers researchers use: TensorBoard, MLflow and
Weights & Biases (``--log-to``, or a suite's ``log_to``).

What is sent comes from the run's record and its training stages' stored curves
(``record.curves``), after the run, through each tracker's own client. So a run served from the
cache sends the same curves as the run that trained them, and tracking is part of no stage,
so of no cache key. Each tracker writes locally unless its own settings say otherwise:

- TensorBoard: event files under ``$HARNESS_HOME/tensorboard/RUN`` (``tensorboard --logdir
  $HARNESS_HOME/tensorboard`` shows every run);
- MLflow: the store ``MLFLOW_TRACKING_URI`` names, by default the SQLite file
  ``$HARNESS_HOME/mlflow.db`` (``mlflow ui --backend-store-uri sqlite:///...``); one
  experiment per suite, one MLflow run per harness run;
- W&B: offline under ``$HARNESS_HOME/wandb`` unless ``WANDB_MODE`` says otherwise (``wandb
  sync`` uploads an offline run later); project ``WANDB_PROJECT``, default ``w2s-harness``.

A run sent again (``harness show RUN --log-to``) replaces its TensorBoard folder and its
MLflow run; W&B gets a second run of the same name.

Names are ``train/LABEL/loss`` and ``train/LABEL/learning_rate`` by optimizer step,
``eval/MIXTURE/CAPABILITY/METHOD/ROLE`` by seed (the weak model, the ceiling, W2S and each
untuned baseline), and ``summary/MIXTURE/CAPABILITY/METHOD/...``: the means over seeds with
their 95% intervals (``_low``, ``_high``) as the report has them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable, get_args

from harness.errors import HarnessError
from harness.record import RunRecord, curves
from harness.report import summarise
from harness.schemas import Tracker
from harness.stats import Estimate
from harness.store import Store

TRACKERS = get_args(Tracker)
INSTALL = "pip install 'w2s-harness[track]'"

Series = dict[str, list[tuple[int, float]]]


def check(names: list[str]) -> None:
    """Before any compute: each name a tracker, each tracker's client installed."""
    for name in names:
        if name not in TRACKERS:
            raise HarnessError(f"--log-to: no tracker named {name!r}; the trackers are "
                               f"{', '.join(TRACKERS)}")
        if importlib.util.find_spec(name) is None:  # each client is the module of its name
            raise HarnessError(f"--log-to {name}: its client ({name}) is not installed; "
                               f"{INSTALL}")


def metric(*parts: str) -> str:
    """A name every tracker takes (MLflow's are the strictest: word characters, ``.-`` and
    spaces between slashes): each part's other characters become spaces."""
    return "/".join(" ".join(re.sub(r"[^\w.\- ]+", " ", p).split()) or "_" for p in parts)


def series(run: RunRecord, store: Store) -> Series:
    """Every curve to send, by name: the training stages' loss and learning rate by optimizer
    step, and each result row's accuracies by seed."""
    out: Series = {}
    for label, rows in curves(run, store).items():
        for field in ("loss", "learning_rate"):
            points = [(int(h["step"]), float(h[field])) for h in rows if field in h]
            if points:
                out[metric("train", label, field)] = points
    for r in run.results:
        for role, value in {"weak": r.weak, "ceiling": r.ceiling, "w2s": r.w2s,
                            **r.baselines}.items():
            name = metric("eval", r.mixture, r.capability, r.method, role)
            out.setdefault(name, []).append((r.seed, value))
    return out


def summary(run: RunRecord) -> dict[str, float]:
    """The run's summary as the report has it, over every seed: weak, ceiling, W2S and PGR,
    each untuned baseline and the format control, W2S over the weak model and over the best
    strong baseline, each with its 95% interval where it has one, and chance."""
    out: dict[str, float] = {}
    for s in summarise(run.results):
        where = (s.mixture, s.capability, s.method)
        estimates: dict[str, Estimate | None] = {
            "weak": s.weak, "ceiling": s.ceiling, "w2s": s.w2s, "pgr": s.pgr,
            "w2s_minus_weak": s.vs_weak, "w2s_minus_strong_base": s.vs_base,
            **{f"baseline {k}": v for k, v in s.baselines.items()}}
        for key, est in estimates.items():
            if est is None:
                continue
            out[metric("summary", *where, key)] = est.mean
            for side, value in (("low", est.low), ("high", est.high)):
                if value is not None:
                    out[metric("summary", *where, f"{key}_{side}")] = value
        if s.chance is not None:
            out[metric("summary", *where, "chance")] = s.chance
    return out


def config(run: RunRecord) -> dict[str, str]:
    """What the trackers file the run under: the suite, the models, the seeds."""
    m = run.manifest
    return {"run_id": m.run_id, "suite": m.suite.name, "weak": m.suite.supervised_by,
            "strong": m.suite.strong, "seeds": ",".join(map(str, m.suite.seeds)),
            "backend": m.backend}


def send(run: RunRecord, store: Store, names: list[str]) -> dict[str, str]:
    """Send ``run`` to each named tracker; where each wrote, by tracker."""
    check(names)
    data = series(run, store), summary(run), config(run)
    return {name: WRITERS[name](store.root, *data) for name in dict.fromkeys(names)}


def _tensorboard(home: Path, curves: Series, totals: dict[str, float],
                 about: dict[str, str]) -> str:
    from torch.utils.tensorboard import SummaryWriter

    where = home / "tensorboard" / about["run_id"]
    shutil.rmtree(where, ignore_errors=True)  # sent again: replaced, not doubled
    with SummaryWriter(str(where)) as writer:
        writer.add_text("run", "  \n".join(f"{k}: {v}" for k, v in about.items()))
        for name, points in curves.items():
            for step, value in points:
                writer.add_scalar(name, value, step)
        for name, value in totals.items():
            writer.add_scalar(name, value, 0)
    return str(where)


def _mlflow(home: Path, curves: Series, totals: dict[str, float],
            about: dict[str, str]) -> str:
    import logging

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its table-creation notes
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(about["suite"])
    experiment = found.experiment_id if found else client.create_experiment(about["suite"])
    for earlier in client.search_runs([experiment],
                                      f"attributes.run_name = '{about['run_id']}'"):
        client.delete_run(earlier.info.run_id)  # sent again: replaced, not doubled
    run = client.create_run(experiment, run_name=about["run_id"])
    now = int(time.time() * 1000)
    metrics = [Metric(name, value, now, step) for name, points in curves.items()
               for step, value in points]
    metrics += [Metric(name, value, now, 0) for name, value in totals.items()]
    client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in about.items()])
    for start in range(0, len(metrics), 1000):  # MLflow's most per call
        client.log_batch(run.info.run_id, metrics=metrics[start:start + 1000])
    client.set_terminated(run.info.run_id)
    return f"{uri} (experiment {about['suite']}, run {about['run_id']})"


def _wandb(home: Path, curves: Series, totals: dict[str, float],
           about: dict[str, str]) -> str:
    import wandb

    run = wandb.init(project=os.environ.get("WANDB_PROJECT", "w2s-harness"),
                     name=about["run_id"], group=about["suite"], config=about, dir=str(home),
                     mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
                     settings=wandb.Settings(console="off", silent=True))
    for name, points in curves.items():
        axis = name.rsplit("/", 1)[0] + ("/step" if name.startswith("train/") else "/seed")
        run.define_metric(name, step_metric=axis)
        for step, value in points:
            run.log({axis: step, name: value})
    run.summary.update(totals)
    where = str(Path(run.dir).parent)
    run.finish()
    return where


WRITERS: dict[str, Callable[[Path, Series, dict[str, float], dict[str, str]], str]] = {
    "tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb}
"""Each tracker's writer (``TRACKERS``, one each: tests/test_track.py checks)."""
