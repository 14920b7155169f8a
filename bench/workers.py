"""Worker processes and thread budgets: what they cost and what they buy on this machine.

1. Two independent sft stages of tiny-strong (the ceilings of seeds 0 and 1, ``--steps``
   steps each), one after the other (``--jobs 1``: each gets every core) and at once
   (``--jobs 2``: each gets half the cores). Goal: concurrent >= 1.4x faster on 2 cores.
2. The quickstart suite with every stage in a fresh worker process vs in this process
   (``--in-process``). Goal: workers/in-process <= 1.05.

Each measurement uses a fresh ``$HARNESS_HOME`` (tiny models shared and built beforehand), and
the figures are ratios from one run: run it with nothing else on the machine.

    python bench/workers.py [--steps 50] [--skip-quickstart]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _timed(graph, jobs: int, in_process: bool = False) -> float:
    from harness.executors import LocalExecutor
    from harness.scheduler import run_graph
    from harness.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as home:
        store = Store(Path(home))
        t0 = time.perf_counter()
        run_graph(LocalExecutor(jobs=jobs, in_process=in_process), graph, store, set(),
                  Path(home) / "logs")
        return time.perf_counter() - t0


def concurrent_training(steps: int) -> dict[str, float]:
    from harness.graph import Graph
    from harness.schemas import Suite
    from harness.planner import plan
    from harness.plugins import registry

    suite = Suite.model_validate({
        "name": "bench", "weak": "tiny-weak", "strong": "tiny-strong", "seeds": [0, 1],
        "backend": "hf", "capabilities": [{"name": "synth_arith"}],
        "train": {"name": "sft", "params": {"max_steps": steps, "batch_size": 20,
                                            "micro_batch_size": 20, "lr": 3e-3}}})
    _, full = plan(suite, registry(), "hf")
    keep = {n: s for n, s in full.stages.items()
            if s.kind == "data" or s.label.startswith("train ceiling")}
    graph = Graph(stages=keep)
    serial = _timed(graph, jobs=1)
    concurrent = _timed(graph, jobs=2)
    return {"serial_s": serial, "concurrent_s": concurrent, "speedup": serial / concurrent}


def quickstart() -> dict[str, float]:
    from harness.planner import plan
    from harness.plugins import registry
    from harness.schemas import Suite
    from harness.runs import find_suite

    suite = Suite.from_file(find_suite("quickstart"))
    _, graph = plan(suite, registry(), "hf")
    workers = _timed(graph, jobs=1)
    inline = _timed(graph, jobs=1, in_process=True)
    return {"workers_s": workers, "in_process_s": inline, "ratio": workers / inline}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="sft steps of each training stage")
    ap.add_argument("--skip-quickstart", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_QUIET", "1")
    from harness.resolver import resolve
    from harness.tinymodels import TINY

    for name in TINY:  # built once, outside every timing
        resolve(name)
    cores = len(os.sched_getaffinity(0))
    a = concurrent_training(args.steps)
    print(f"two {args.steps}-step sft stages on {cores} cores: one after the other "
          f"{a['serial_s']:.1f}s, concurrently with {max(1, cores // 2)} thread(s) each "
          f"{a['concurrent_s']:.1f}s: {a['speedup']:.2f}x faster (goal >= 1.4x)")
    if not args.skip_quickstart:
        b = quickstart()
        print(f"quickstart: workers {b['workers_s']:.1f}s, in-process {b['in_process_s']:.1f}s: "
              f"ratio {b['ratio']:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
