"""Executors: where each stage of a graph runs. ``harness.scheduler`` decides what runs when;
an executor only says whether it can take a stage now, starts it, and waits for outcomes.

Both hand every stage to ``harness.worker`` as a ``Job`` (data), so they differ only in where
the worker lives:

- ``local``: this machine. Each stage runs in a fresh process forked from a forkserver that has
  built the plugin registry and imported torch and transformers once (so a stage starts in well
  under a second; torch only where the run's plugins load models), and exits when the stage
  is done, giving its GPU and host memory back. Up to ``jobs`` stages run at once where the
  graph allows, each with ``cores // jobs`` CPU threads and its GPUs
  (``CUDA_VISIBLE_DEVICES``) to itself. Stages of a kind marked
  ``here`` (``runners.KINDS``: data, supervise) run in this process.
  ``in_process`` runs every stage in this process, for fast tests.
- ``ray``: each stage is a Ray task with the stage's ``num_cpus`` / ``num_gpus``, submitted once
  its inputs are done, retried when its worker dies, in a worker process used for that one
  task (``max_calls=1``).

The parent process plans, schedules and reports; it never imports torch or vllm.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, ClassVar, Iterator

from harness.devices import cores, gpu_ids
from harness.errors import HarnessError
from harness.graph import StageSpec
from harness.jobs import Job, Outcome
from harness.runners import KINDS
from harness.worker import child_main, console_of, execute, ray_stage


class Executor:
    """Places stages: ``can_take`` a ready stage now, ``submit`` its job, ``wait`` for at
    least one outcome, inside a ``session`` that ends everything it started."""

    name: ClassVar[str]
    threads: int = 0
    """CPU threads each stage gets (0: the stage's ``resources.cpus``)."""
    models: bool = True
    """Whether the run's plugins load models (set by the run before its first stage): the
    local executor's workers then start with torch and transformers imported."""

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        yield

    def can_take(self, spec: StageSpec) -> bool:
        raise NotImplementedError

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def wait(self) -> list[Outcome]:
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
        self.free: list[str] = list(self.gpus)
        self.running: dict[str, tuple[Any, Job, Path, list[str], int]] = {}
        self.finished: list[Outcome] = []
        self.context: Any = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "jobs": self.jobs, "in_process": self.in_process,
                "cores": self.cores, "threads_per_stage": self.threads, "gpus": self.gpus}

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self.context = None if self.in_process else _forkserver(self.models)
        try:
            yield
        finally:
            stop([process for process, *_ in self.running.values()])
            self.running.clear()

    def _need(self, spec: StageSpec) -> int:
        return min(spec.resources.gpus, len(self.gpus))

    def can_take(self, spec: StageSpec) -> bool:
        return len(self.running) + len(self.finished) < self.jobs and \
            self._need(spec) <= len(self.free)

    def submit(self, job: Job) -> None:
        if self.context is None or KINDS[job.spec.kind].here:  # done before the next is taken
            self.finished.append(execute(job.model_copy(update={"log": ""})))
            return
        devices = [self.free.pop(0) for _ in range(self._need(job.spec))]
        if self.gpus:
            job.devices = ",".join(devices)
        Path(job.log).parent.mkdir(parents=True, exist_ok=True)
        result = Path(job.log).parent / f".{Path(job.log).name}.outcome.json"
        process = self.context.Process(target=child_main,
                                       args=(job.model_dump_json(), str(result)),
                                       name=f"harness: {job.spec.label}")
        process.start()
        self.running[job.spec.id] = (process, job, result, devices, 0)

    def wait(self) -> list[Outcome]:
        """Block until a worker exits, echoing the running workers' logs meanwhile."""
        if self.finished:
            out, self.finished = self.finished, []
            return out
        by_sentinel = {entry[0].sentinel: node for node, entry in self.running.items()}
        while True:
            ready = wait(list(by_sentinel), timeout=0.5)
            for node, (process, job, result, devices, offset) in list(self.running.items()):
                self.running[node] = (process, job, result, devices, _forward(job.log, offset))
            if ready:
                break
        out = []
        for sentinel in ready:
            process, job, result, devices, offset = self.running.pop(by_sentinel[sentinel])
            _forward(job.log, offset)
            console_of(job.log).unlink(missing_ok=True)
            self.free += devices
            out.append(_read_outcome(process, job, result))
        return out


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


def _forkserver(models: bool):
    """The forkserver context, preloading the registry once for every worker
    (``harness._preload``), and torch and transformers with ``models``
    (``harness._preload_models``). The first session of a process starts the forkserver, and
    its preloads stay for the process."""
    context = multiprocessing.get_context("forkserver")
    modules = ["harness._preload", "harness._preload_models"]
    context.set_forkserver_preload(modules if models else modules[:1])
    return context


def _forward(log: str, offset: int) -> int:
    """Copy what a worker wrote to its console file (``worker.console_of``: the harness's
    lines and bars, not what plugins print, which stays in the log) since ``offset`` to our
    stderr; the new offset."""
    if not log or not console_of(log).exists():
        return offset
    with open(console_of(log), "rb") as handle:
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
        self.waiting: dict[Any, Job] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address or "local", "retries": self.retries}

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        import ray

        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, logging_level="WARNING",
                     log_to_driver=False,
                     **({} if self.address else {"num_cpus": cores()}))
        self.gpus = int(ray.cluster_resources().get("GPU", 0))
        self.task = ray.remote(max_calls=1, max_retries=self.retries,
                               retry_exceptions=False)(ray_stage)
        try:
            yield
        finally:
            for ref in self.waiting:
                ray.cancel(ref, force=True)
            self.waiting.clear()
            if started:
                ray.shutdown()

    def can_take(self, spec: StageSpec) -> bool:
        return True  # Ray queues a task until the cluster has its resources

    def submit(self, job: Job) -> None:
        spec = job.spec
        ref = self.task.options(num_cpus=spec.resources.cpus,
                                num_gpus=min(spec.resources.gpus, self.gpus),
                                name=spec.label[:100]).remote(job.model_dump_json())
        self.waiting[ref] = job

    def wait(self) -> list[Outcome]:
        import ray

        (ready,), _ = ray.wait(list(self.waiting), num_returns=1)
        job = self.waiting.pop(ready)
        try:
            return [ray.get(ready)]
        except Exception as exc:  # retries exhausted, or the cluster went away
            return [Outcome.of(job.spec, key=job.key,
                               error=f"{type(exc).__name__}: {exc}".splitlines()[0])]


def make(name: str, jobs: int = 1, in_process: bool = False,
         ray_address: str | None = None) -> Executor:
    if name == "local":
        return LocalExecutor(jobs=jobs, in_process=in_process)
    if name == "ray":
        return RayExecutor(address=ray_address)
    raise HarnessError(f"unknown executor {name!r}; choose local or ray")
