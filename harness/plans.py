"""How a plan reads: its stages with what the cache already holds (`harness run --dry-run`)
and the sizing estimate's tables (`harness plan`). Rendering only: the figures come from the
planner, the scheduler's view of the cache and ``harness.sizing``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tabulate import tabulate

from harness import sizing
from harness.graph import Graph
from harness.planner import Planner
from harness.scheduler import cached_prefix, key_after
from harness.sizing import Estimate, Machine
from harness.store import Store


def describe_plan(planner: Planner, graph: Graph, store: Store) -> str:
    """The plan, with the cache key of every stage whose inputs are already cached."""
    rows = []
    for name, cap in planner.capabilities.items():
        p = cap.params
        rows.append([name, planner.sources[name] or "(generated)", p.labeled, p.unlabeled,
                     p.test])
    caps = tabulate(rows, headers=["capability", "source", "labeled", "unlabeled", "test"])
    done, refill = cached_prefix(graph, store, set())
    stages = []
    for i, (node, spec) in enumerate(graph.stages.items(), 1):
        key, status = "(after inputs)", "to run"
        if node in done:
            key, status = done[node].key, "cached"
        elif all(n in done for n in spec.inputs.values()):
            key = key_after(spec, done)
            status = "recompute (gc dropped its checkpoint)" if node in refill else "to run"
        stages.append([i, spec.kind, spec.label, key, status])
    todo = sum(1 for s in stages if s[-1] != "cached")
    table = tabulate(stages, headers=["#", "stage", "what", "key", "status"])
    return f"{caps}\n\n{table}\n\n{todo} of {len(stages)} stages to run"


def _summary_rows(est: dict[str, Estimate]) -> list[list[Any]]:
    """One row per (kind, model, launch): count, memory per GPU, GPU-hours, fit."""
    groups: dict[tuple, list[Estimate]] = defaultdict(list)
    for e in est.values():
        if e.kind != "data" and e.gpus:
            groups[(e.kind, e.model, e.launch, e.note)].append(e)
    return [[kind, model, len(es), launch, f"{max(e.memory_gib for e in es):.1f}",
             f"{sum(e.gpu_hours for e in es):.1f}", note or "fits"]
            for (kind, model, launch, note), es in groups.items()]


def sizing_report(graph: Graph, est: dict[str, Estimate], machine: Machine) -> str:
    """The plan as people read it: per stage kind, then totals (all estimates)."""
    table = tabulate(_summary_rows(est), headers=["stage", "model", "count", "launch",
                                                 "GiB/GPU", "GPU-h", "fit"],
                     disable_numparse=True)
    disk = sum(e.checkpoint_bytes for e in est.values())
    gpu_hours = sum(e.gpu_hours for e in est.values())
    slots = f"{machine.jobs} jobs" if machine.jobs else "as many stages as GPUs allow"
    lines = [
        f"GPU-hours: {gpu_hours:,.0f} (at {machine.mfu:.0%} MFU of {machine.tflops:g} TFLOP/s "
        f"for training and prefill, {machine.decode_mfu:.0%} for generation)",
        f"checkpoints: {disk / 1e12:,.2f} TB written without gc; 0 after `harness cache gc` "
        f"(results, predictions and metadata stay)",
        f"critical path: {sizing.critical_path(graph, est):,.1f} h; wall-clock on "
        f"{machine.gpus} x {machine.gpu_memory:g} GiB, {slots}: "
        f"{sizing.schedule(graph, est, machine):,.1f} h",
    ]
    unfit = [e for e in est.values() if not e.fits]
    if unfit:
        lines.append(f"{len(unfit)} stages do not fit: `harness run` refuses them before "
                     "compute")
    return f"{table}\n\n" + "\n".join(lines)
