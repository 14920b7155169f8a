"""Checks on a suite's data before any model runs: the gold targets must survive decoding.

A gold target that contains a stop string (after its first non-whitespace character) is cut
there when a model reproduces it, and one longer than ``max_new_tokens`` is cut at the budget:
either way weak labels and evaluations are truncated and scores are wrong, silently. When more
than ``THRESHOLD`` of a split's targets would be cut, the run stops before any model runs, with
one line naming the capability and the fix (``target_check: warn`` in the suite, or
``--warn-targets``, reports it and goes on: for smoke runs of tiny models on real data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.bases import Capability, DecodeConfig
from harness.errors import HarnessError
from harness.graph import Graph
from harness.progress import say
from harness.store import Store
from harness.planner import SPLIT_FILES
from harness.runners import DataParams

THRESHOLD = 0.01


def data_stages(graph: Graph) -> list[str]:
    """The data stages of the first seed: what checks and plans read before any model runs
    (they only read and split files)."""
    data = {node: DataParams.of(spec) for node, spec in graph.stages.items() if spec.kind == "data"}
    first = min((p.seed for p in data.values()), default=0)
    return [node for node, p in data.items() if p.seed == first]


def data_entries(graph: Graph, store: Store) -> dict[str, Path]:
    """The first seed's data stages, served or computed in this process, by entry."""
    from harness.executors import LocalExecutor
    from harness.scheduler import run_graph

    done = run_graph(LocalExecutor(in_process=True), graph, store, set(), store.root / "logs",
                     only=data_stages(graph))
    return {n: Path(o.entry) for n, o in done.items()}


def cut_by_stop(target: str, stop: list[str]) -> str | None:
    """The stop string that would end ``target`` early (whitespace before content never
    stops, as ``Backend.complete`` decodes), or None."""
    body = target.lstrip()
    for s in stop:  # a stop string that ends the target cuts nothing
        if s and body.endswith(s):
            body = body[:-len(s)]
    for s in stop:
        if s in body:
            return s
    return None


def problems(cap: Capability, decode: DecodeConfig, targets: list[str],
             count: Callable[[str], int] | None, counted_by: str) -> list[str]:
    """What would cut more than ``THRESHOLD`` of ``targets``, as sentences naming the fix."""
    out = []
    n = max(1, len(targets))
    stops = [s for t in targets for s in [cut_by_stop(t, decode.stop)] if s]
    if len(stops) / n > THRESHOLD:
        out.append(f"{cap.name}: {len(stops)} of {len(targets)} gold targets contain the stop "
                   f"string {stops[0]!r}, where decoding would cut them; set the suite's "
                   "`decode: {stop: [...]}` or change the capability's target format")
    if count is not None:
        long = [c for t in targets for c in [count(t)] if c > decode.max_new_tokens]
        if len(long) / n > THRESHOLD:
            out.append(f"{cap.name}: {len(long)} of {len(targets)} gold targets are longer than "
                       f"max_new_tokens {decode.max_new_tokens} ({max(long)} tokens by "
                       f"{counted_by}); raise the suite's "
                       "`decode: {max_new_tokens: N}`")
    return out


def check_targets(graph: Graph, entries: dict[str, Path], caps: dict[str, Capability],
                  decode: Callable[[str], DecodeConfig], models: list[str],
                  warn_only: bool) -> None:
    """Refuse (or, with ``warn_only``, report) targets that decoding would cut."""
    from harness import outputs
    from harness.sizing import counter

    counters = [(m, c) for m in dict.fromkeys(models) for c in [counter(m)] if c]
    found: list[str] = []
    for node, entry in entries.items():
        name = DataParams.of(graph.stages[node]).capability.name
        targets = [r.target for split in SPLIT_FILES for r in outputs.rows(entry, split)]
        for model, count in counters or [("", None)]:
            found += problems(caps[name], decode(name), targets, count, f"{model}'s tokenizer")
    found = list(dict.fromkeys(found))
    if not found:
        return
    if warn_only:
        for line in found:
            say(f"warning: {line}")
        return
    raise HarnessError(f"{found[0]} (or `--warn-targets` to go on)"
                       + (f"; and {len(found) - 1} more" if len(found) > 1 else ""))
