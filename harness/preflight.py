"""Checks on a suite's data before any model runs: every split has the rows the suite asked
for, every prompt fits the models' context, and the gold targets survive decoding.

Splits (``check_splits``): an empty split, or one shorter than the suite asked for (a pool
too small for it), stops the run with how many rows the pool can give; the rows that making
the splits dropped (repeats within a pool, train rows the test split holds) are told and kept
in the run's record. Prompts (``check_context``): one longer, with its solved examples, than
a model's context stops the run naming the capability, the item and both lengths.

A gold target that contains a stop string (after its first non-whitespace character) is cut
there when a model reproduces it, and one longer than ``max_new_tokens`` is cut at the budget:
either way weak labels and evaluations are truncated and scores are wrong, silently. When more
than ``THRESHOLD`` of a split's targets would be cut, the run stops before any model runs, with
one line naming the capability and the fix (``target_check: warn`` in the suite, or
``--warn-targets``, reports it and goes on: for smoke runs of tiny models on real data).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from harness.bases import Capability, DecodeConfig
from harness.errors import HarnessError
from harness.graph import Graph
from harness.progress import say
from harness.store import Store
from harness.planner import SPLIT_FILES
from harness.runners import DataParams, DecodeParams, shots

if TYPE_CHECKING:
    from harness.outputs import SplitAccount

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
    """The stop string that would end ``target`` early, or None. As ``Backend.complete``
    decodes, a stop that comes before anything is said (whitespace, or nothing after an
    answer marker: ``harness.bases.unsaid``) does not end it."""
    from harness.bases import Generation, unsaid

    body = target
    for s in stop:  # a stop string that ends the target cuts nothing
        if s and body.endswith(s):
            body = body[:-len(s)]
    at = 0
    while True:
        hits = [(i, s) for s in stop if s for i in [body.find(s, at)] if i != -1]
        if not hits:
            return None
        i, s = min(hits)
        if not unsaid(Generation(text=body[:i], stop=s)):
            return s
        at = i + len(s)


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
    from harness.tokens import counter

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


def _capability(graph: Graph, node: str) -> str:
    return DataParams.of(graph.stages[node]).capability.name


def check_splits(graph: Graph, entries: dict[str, Path]) -> dict[str, "SplitAccount"]:
    """Refuse an empty or short split; warn of dropped rows; return each capability's account
    (the first seed's) for the run's record."""
    from harness import outputs

    accounts = {}
    for node, entry in entries.items():
        name = _capability(graph, node)
        acc = outputs.account(entry)
        if acc is None:
            continue
        accounts[name] = acc
        problem = acc.problem(name)
        if problem:
            raise HarnessError(problem)
        if acc.duplicates or acc.overlap:
            say(f"warning: {name}: making the splits dropped {acc.duplicates} repeated rows "
                f"and {acc.overlap} train rows that the test split holds (recorded in the "
                "run's manifest and report)")
    return accounts


def check_context(graph: Graph, entries: dict[str, Path], models: list[str]) -> None:
    """Refuse a prompt that, with its solved examples, is longer than a model's context (for
    each model whose config and tokenizer are on disk; the decodes of the seed whose data
    ``entries`` holds)."""
    from harness import outputs
    from harness.tokens import context_length, counter

    data = {_capability(graph, node): entry for node, entry in entries.items()}
    seed = next((DataParams.of(graph.stages[n]).seed for n in entries), 0)
    wanted: set[tuple[str, str, int, int]] = set()
    for spec in graph.stages.values():
        if spec.kind == "decode":
            p = DecodeParams.of(spec)
            if p.shots and p.shot_seed != seed:
                continue
            wanted |= {(c, p.split, p.shots, p.shot_seed if p.shots else 0)
                       for c in p.capabilities if c in data}
    for model in dict.fromkeys(models):
        limit, count = context_length(model), counter(model)
        if limit is None or count is None:
            continue
        for cap, split, k, seed in sorted(wanted):
            head = shots(outputs.rows(data[cap], "labeled"), k, f"{seed}:{cap}")
            for row in outputs.rows(data[cap], split):
                n = count(head + row.prompt)
                if n > limit:
                    with_shots = f" with its {k} solved examples" if k else ""
                    raise HarnessError(
                        f"capability {cap}: the prompt of {split} item {row.id!r}{with_shots} "
                        f"is {n} tokens, longer than {model}'s context of {limit}; shorten "
                        "the capability's prompts, lower baseline_shots/base_shots, or use a "
                        "model with a longer context")
