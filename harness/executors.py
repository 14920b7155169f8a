"""Executors: which process runs each stage of a graph, and when.

Both hand every stage to ``harness.worker`` as a ``Job`` (data), so they differ only in where
the worker lives:

- ``local``: this machine. Each stage runs in a fresh process forked from a forkserver that has
  imported torch and transformers once (so a stage starts in well under a second), and exits
  when the stage is done, giving its GPU and host memory back. Up to ``jobs`` stages run at once
  where the graph allows, each with ``cores // jobs`` CPU threads and its GPUs
  (``CUDA_VISIBLE_DEVICES``) to itself. ``in_process`` runs stages in this process instead,
  for fast unit tests.
- ``ray``: each stage is a Ray task with the stage's ``num_cpus`` / ``num_gpus``, its upstream
  stages' task results as arguments (Ray schedules by those dependencies), retried when its
  worker dies, in a worker process used for that one task (``max_calls=1``).

The parent process plans, schedules and reports; it never imports torch or vllm.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, ClassVar

from harness.devices import cores, gpu_ids
from harness.errors import HarnessError
from harness.graph import Graph, StageSpec
from harness.progress import say
from harness.store import Store
from harness.worker import Job, Outcome, child_main, execute, ray_stage

Report = Callable[[Outcome], None]


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


def cached_prefix(graph: Graph, store: Store, force: set[str]) -> tuple[dict[str, Outcome],
                                                                         set[str]]:
    """The stages served before anything runs (every input served, entry complete, not
    forced), and the ones to recompute although cached: an entry whose checkpoint
    ``harness cache gc`` dropped is served only while every stage reading it is served too."""
    out: dict[str, Outcome] = {}
    for node, spec in graph.stages.items():
        if forced(spec, force) or any(n not in out for n in spec.inputs.values()):
            continue
        key = key_after(spec, out)
        if store.done(spec.kind, key):
            out[node] = served(spec, store, key)
    refill: set[str] = set()
    for node in reversed(list(graph.stages)):  # readers before what they read
        if node in out and store.evicted(out[node].kind, out[node].key):
            if any(r not in out for r in graph.readers(node)):
                del out[node]
                refill.add(node)
    return out, refill


def _log_path(logs: Path, index: int, spec: StageSpec) -> str:
    return str(logs / f"{index:03d}-{spec.slug[:80]}.log")


def failure(outcome: Outcome) -> HarnessError:
    where = f"; its log: {outcome.log}" if outcome.log else ""
    return HarnessError(f"stage {outcome.label!r} failed: {outcome.error}{where}")


class Executor:
    """Runs a graph; ``report`` is called with each stage's outcome as it finishes."""

    name: ClassVar[str]

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def run(self, graph: Graph, store: Store, force: set[str], logs: Path,
            report: Report) -> dict[str, Outcome]:
        raise NotImplementedError


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs: int = 1, in_process: bool = False) -> None:
        if jobs < 1:
            raise HarnessError(f"--jobs {jobs}: give at least 1")
        self.jobs = 1 if in_process else jobs
        self.in_process = in_process
        self.cores = cores()
        self.threads = max(1, self.cores // self.jobs)
        self.gpus = gpu_ids()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "jobs": self.jobs, "in_process": self.in_process,
                "cores": self.cores, "threads_per_stage": self.threads, "gpus": self.gpus}

    def run(self, graph: Graph, store: Store, force: set[str], logs: Path,
            report: Report) -> dict[str, Outcome]:
        logs.mkdir(parents=True, exist_ok=True)
        order = {node: i for i, node in enumerate(graph.stages, 1)}
        total = len(order)
        done, refill = cached_prefix(graph, store, force)
        for node, outcome in done.items():
            say(f"[{order[node]}/{total}] {outcome.label}: cached")
            report(outcome)
        pending = [n for n in graph.stages if n not in done]
        running: dict[str, tuple[Any, Job, Path, list[str], int]] = {}
        free = list(self.gpus)
        context = None if self.in_process else _forkserver()
        error: Outcome | None = None
        try:
            while pending or running:
                while error is None and len(running) < self.jobs:
                    started = self._start_next(graph, store, force, refill, logs, pending, done,
                                               free, order, total, context, report)
                    if started is None:
                        break
                    if isinstance(started, Outcome):  # ran in this process
                        error = error or self._finish(started, done, order, total, report)
                    else:
                        running[started[1].spec.id] = started
                if not running:
                    if error is None and pending:
                        raise HarnessError(f"{len(pending)} stages can never start: the GPUs "
                                           "they need are not visible here")
                    break
                finished = self._wait(running)
                for node in finished:
                    process, job, result, devices, offset = running.pop(node)
                    _forward(job.log, offset)
                    free += devices
                    outcome = _read_outcome(process, job, result)
                    error = error or self._finish(outcome, done, order, total, report)
                if error is not None:
                    pending.clear()
        finally:
            stop([process for process, *_ in running.values()])
        if error is not None:
            raise failure(error)
        return done

    def _start_next(self, graph, store, force, refill, logs, pending, done, free, order, total,
                    context, report):
        """Serve the next ready stage from the cache, or start it; None when none can start."""
        for node in list(pending):
            spec = graph.stages[node]
            if any(n not in done for n in spec.inputs.values()):
                continue
            need = min(spec.resources.gpus, len(self.gpus))
            if need > len(free):
                continue
            key = key_after(spec, done)
            pending.remove(node)
            tag = f"[{order[node]}/{total}] {spec.label}"
            recompute = forced(spec, force) or node in refill
            if not recompute and store.done(spec.kind, key):
                say(f"{tag}: cached")
                done[node] = served(spec, store, key)
                report(done[node])
                continue
            if store.busy(spec.kind, key):
                say(f"{tag}: another run is computing it; waiting")
            devices = [free.pop(0) for _ in range(need)]
            job = Job(spec=spec, key=key, root=str(store.root), force=recompute,
                      inputs={r: done[n].entry for r, n in spec.inputs.items()},
                      threads=self.threads, parent=os.getpid(),
                      devices=",".join(devices) if self.gpus else None)
            say(f"{tag} ...")
            if context is None:
                return execute(job)
            job.log = _log_path(logs, order[node], spec)
            result = logs / f".{order[node]:03d}.outcome.json"
            process = context.Process(target=child_main, args=(job.model_dump_json(),
                                                               str(result)),
                                      name=f"harness: {spec.label}")
            process.start()
            return process, job, result, devices, 0
        return None

    def _wait(self, running) -> list[str]:
        """Block until a worker exits, echoing the running workers' logs meanwhile."""
        by_sentinel = {entry[0].sentinel: node for node, entry in running.items()}
        while True:
            ready = wait(list(by_sentinel), timeout=0.5)
            for node, (process, job, result, devices, offset) in list(running.items()):
                running[node] = (process, job, result, devices, _forward(job.log, offset))
            if ready:
                return [by_sentinel[s] for s in ready]

    @staticmethod
    def _finish(outcome: Outcome, done, order, total, report) -> Outcome | None:
        """Record a finished stage; return it when it failed."""
        if outcome.error is not None:
            say(f"[{order[outcome.node]}/{total}] {outcome.label}: failed")
            report(outcome)
            return outcome
        done[outcome.node] = outcome
        say(f"[{order[outcome.node]}/{total}] {outcome.label}: "
            f"{'cached' if outcome.cached else f'done in {outcome.seconds:.1f}s'}")
        report(outcome)
        return None


def stop(processes: list, grace: float = 3.0) -> None:
    """End workers and everything they started (each leads its own process group: vLLM's
    engine processes, accelerate's ranks): SIGTERM, then SIGKILL for what is left after
    ``grace`` seconds, so an interrupted run leaves nothing computing."""
    import signal

    def signal_all(sig: int) -> None:
        for process in processes:
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    signal_all(signal.SIGTERM)
    deadline = time.time() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.time()))
    signal_all(signal.SIGKILL)
    for process in processes:
        process.join(1.0)


def _forkserver():
    """The forkserver context, preloading torch and transformers once for every worker."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["harness._preload"])
    return context


def _forward(log: str, offset: int) -> int:
    """Copy what a worker wrote to its log since ``offset`` to our stderr; the new offset."""
    if not log or not Path(log).exists():
        return offset
    with open(log, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    if chunk:
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
    return offset + len(chunk)


def _read_outcome(process, job: Job, result: Path) -> Outcome:
    process.join()
    if result.exists():
        outcome = Outcome.model_validate_json(result.read_text())
        result.unlink()
        return outcome
    return Outcome.of(job.spec, key=job.key, pid=process.pid or 0, log=job.log,
                      error=f"its worker (pid {process.pid}) died with exit code "
                            f"{process.exitcode}; no partial entry was kept")


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None, retries: int = 3) -> None:
        from importlib.util import find_spec

        if find_spec("ray") is None:
            raise HarnessError("--executor ray needs Ray: pip install 'w2s-harness[ray]'")
        self.address = address
        self.retries = retries

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address or "local", "retries": self.retries}

    def run(self, graph: Graph, store: Store, force: set[str], logs: Path,
            report: Report) -> dict[str, Outcome]:
        import ray

        logs.mkdir(parents=True, exist_ok=True)
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, logging_level="WARNING",
                     log_to_driver=False,
                     **({} if self.address else {"num_cpus": cores()}))
        try:
            return self._run(ray, graph, store, force, logs, report)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, graph: Graph, store: Store, force: set[str], logs: Path,
             report: Report) -> dict[str, Outcome]:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        task = ray.remote(max_calls=1, max_retries=self.retries,
                          retry_exceptions=False)(ray_stage)
        refs: dict[str, Any] = {}
        done, refill = cached_prefix(graph, store, force)
        total = len(graph.stages)
        for i, (node, spec) in enumerate(graph.stages.items(), 1):
            if node in done:
                say(f"[{i}/{total}] {spec.label}: cached")
                report(done[node])
                continue
            upstream = [done.get(n) or refs[n] for n in spec.inputs.values()]
            job = Job(spec=spec, key="", root=str(store.root),
                      force=forced(spec, force) or node in refill,
                      threads=spec.resources.cpus, log=_log_path(logs, i, spec))
            refs[node] = task.options(
                num_cpus=spec.resources.cpus, num_gpus=min(spec.resources.gpus, gpus),
                name=spec.label[:100]).remote(job.model_dump_json(), *upstream)
        say(f"ray: {len(refs)} stages submitted, {len(done)} served from the cache")
        waiting = {ref: node for node, ref in refs.items()}
        error: Outcome | None = None
        while waiting:
            (ready,), _ = ray.wait(list(waiting), num_returns=1)
            node = waiting.pop(ready)
            spec = graph.stages[node]
            try:
                outcome = ray.get(ready)
            except Exception as exc:  # retries exhausted, or the cluster went away
                outcome = Outcome.of(spec, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
            done[node] = outcome
            status = "failed" if outcome.error else (
                "cached" if outcome.cached else f"done in {outcome.seconds:.1f}s")
            say(f"{spec.label}: {status} (ray worker {outcome.host}:{outcome.pid})")
            report(outcome)
            if outcome.error and error is None and not outcome.error.startswith("not run:"):
                error = outcome
        if error is not None:
            raise failure(error)
        return done


def make(name: str, jobs: int = 1, in_process: bool = False,
         ray_address: str | None = None) -> Executor:
    if name == "local":
        return LocalExecutor(jobs=jobs, in_process=in_process)
    if name == "ray":
        return RayExecutor(address=ray_address)
    raise HarnessError(f"unknown executor {name!r}; choose local or ray")
