"""The one scheduling policy: which stage of a graph is ready, served from the cache, started,
finished or failed, whichever executor runs it.

``schedule`` drives an ``Executor`` (``harness.executors``), which only places work: it says
whether it can take a stage now, starts one, and waits for some to finish. Everything else is
decided here, once: the cache key (from the inputs' output digests), whether a stage is served
from the cache or recomputed (``--force``, a checkpoint that ``harness cache gc`` dropped),
the progress lines, and each stage's outcome, yielded to the caller as it is decided (no
callback: the run iterates, so calls only go down, run -> scheduler -> executor). A worker
re-checks an entry only under its lock, where another run may just have finished it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from harness.errors import HarnessError
from harness.graph import Graph, StageSpec
from harness.progress import say
from harness.store import Store
from harness.jobs import Job, Outcome

if TYPE_CHECKING:
    from harness.executors import Executor

def forced(spec: StageSpec, force: set[str]) -> bool:
    """``--force`` names a stage kind (``train``) or a label without its brackets."""
    return spec.kind in force or spec.label.split(" [")[0] in force


def served(spec: StageSpec, store: Store, key: str) -> Outcome:
    """The outcome of a stage served from its complete cache entry."""
    now = time.time()
    return Outcome.of(spec, key=key, entry=str(store.path(spec.kind, key)), cached=True,
                      digest=store.digest(spec.kind, key), started=now, finished=now)


def key_after(spec: StageSpec, done: dict[str, Outcome]) -> str:
    """A stage's cache key, once every one of its inputs is in ``done``."""
    return spec.key({r: done[n].digest for r, n in spec.inputs.items()})  # type: ignore


def cached_prefix(graph: Graph, store: Store, force: set[str],
                  done: dict[str, Outcome] | None = None) -> tuple[dict[str, Outcome], set[str]]:
    """The stages served before anything runs (every input served or in ``done``, entry
    complete, not forced), and the ones to recompute although cached: an entry whose
    checkpoint ``harness cache gc`` dropped is served only while every stage reading it is
    served too."""
    known = dict(done or {})
    out: dict[str, Outcome] = {}
    for node, spec in graph.stages.items():
        if node in known or forced(spec, force) or \
                any(n not in out and n not in known for n in spec.inputs.values()):
            continue
        key = key_after(spec, {**known, **out})
        if store.done(spec.kind, key):
            out[node] = served(spec, store, key)
    refill: set[str] = set()
    for node in reversed(list(graph.stages)):  # readers before what they read
        if node in out and store.evicted(out[node].kind, out[node].key):
            if any(r not in out and r not in known for r in graph.readers(node)):
                del out[node]
                refill.add(node)
    return out, refill


def failure(outcome: Outcome) -> HarnessError:
    where = f"; its log: {outcome.log}" if outcome.log else ""
    return HarnessError(f"stage {outcome.label!r} failed: {outcome.error}{where}")


class Scheduler:
    """The state of one graph's run: done (served or computed), running, pending, failed."""

    def __init__(self, graph: Graph, store: Store, force: set[str], logs: Path,
                 done: dict[str, Outcome] | None = None, only: Iterable[str] | None = None,
                 threads: int = 0) -> None:
        self.graph, self.store, self.force, self.logs = graph, store, force, logs
        self.threads = threads
        self.news: list[Outcome] = []
        """Outcomes decided since the caller last took them (``take``)."""
        self.order = {node: i for i, node in enumerate(graph.stages, 1)}
        self.done: dict[str, Outcome] = dict(done or {})
        wanted = set(graph.stages if only is None else only)
        served_now, self.refill = cached_prefix(graph, store, force, self.done)
        for node, outcome in served_now.items():
            if node in wanted:
                self._record(outcome)
        self.pending = [n for n in graph.stages if n in wanted and n not in self.done]
        self.running: set[str] = set()
        self.error: Outcome | None = None

    def tag(self, node: str) -> str:
        return f"[{self.order[node]}/{len(self.order)}] {self.graph.stages[node].label}"

    def ready(self) -> list[StageSpec]:
        """Pending stages whose inputs are all done, in plan order; none after a failure."""
        if self.error is not None:
            return []
        return [self.graph.stages[n] for n in self.pending
                if all(i in self.done for i in self.graph.stages[n].inputs.values())]

    def claim(self, spec: StageSpec) -> Job | None:
        """Take a ready stage: serve it from the cache (None), or the job that computes it."""
        node = spec.id
        self.pending.remove(node)
        key = key_after(spec, self.done)
        recompute = forced(spec, self.force) or node in self.refill
        if not recompute and self.store.done(spec.kind, key):
            self._record(served(spec, self.store, key))
            return None
        if self.store.busy(spec.kind, key):
            say(f"{self.tag(node)}: another run is computing it; waiting")
        say(f"{self.tag(node)} ...")
        self.running.add(node)
        index = self.order[node]
        return Job(spec=spec, key=key, root=str(self.store.root), force=recompute,
                   inputs={r: self.done[n].entry for r, n in spec.inputs.items()},
                   threads=self.threads or spec.resources.cpus, parent=os.getpid(),
                   log=str(self.logs / f"{index:03d}-{spec.slug[:80]}.log"))

    def finish(self, outcome: Outcome) -> None:
        """Record a stage a worker finished (or failed)."""
        self.running.discard(outcome.node)
        if outcome.error is not None:
            say(f"{self.tag(outcome.node)}: failed")
            self.error = self.error or outcome
            self.pending.clear()
            self.news.append(outcome)
            return
        self._record(outcome)

    def _record(self, outcome: Outcome) -> None:
        self.done[outcome.node] = outcome
        say(f"{self.tag(outcome.node)}: "
            f"{'cached' if outcome.cached else f'done in {outcome.seconds:.1f}s'}")
        self.news.append(outcome)

    def take(self) -> list[Outcome]:
        """The outcomes decided since the last call, in the order they were."""
        news, self.news = self.news, []
        return news

    @property
    def finished(self) -> bool:
        return not self.pending and not self.running


def schedule(executor: Executor, graph: Graph, store: Store, force: set[str], logs: Path,
             done: dict[str, Outcome] | None = None,
             only: Iterable[str] | None = None) -> Iterator[Outcome]:
    """Run ``graph`` (or the stages ``only`` names) on ``executor``, yielding each stage's
    outcome (served, computed or failed) as it is decided. Stages in ``done`` are not run or
    yielded again. Raises on the first failure, once it and the stages running then are
    yielded."""
    state = Scheduler(graph, store, force, logs, done, only, executor.threads)
    with executor.session():
        yield from state.take()
        while not state.finished:
            started = False
            for spec in state.ready():
                if not executor.can_take(spec):
                    continue
                job = state.claim(spec)
                if job is not None:
                    executor.submit(job)
                started = True
                break
            yield from state.take()
            if started:
                continue
            if not state.running:
                raise HarnessError(f"{len(state.pending)} stages can never start: the GPUs "
                                   "they need are not visible here")
            for outcome in executor.wait():
                state.finish(outcome)
            yield from state.take()
    if state.error is not None:
        raise failure(state.error)


def run_graph(executor: Executor, graph: Graph, store: Store, force: set[str], logs: Path,
              done: dict[str, Outcome] | None = None,
              only: Iterable[str] | None = None) -> dict[str, Outcome]:
    """``schedule`` to the end: every stage done (and those in ``done``), by id."""
    outcomes = dict(done or {})
    outcomes.update((o.node, o) for o in schedule(executor, graph, store, force, logs, done, only))
    return outcomes
