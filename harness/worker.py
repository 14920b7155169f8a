"""What runs one stage, in whatever process an executor gives it.

``execute(job)`` takes the entry's lock, serves it from the cache or computes it (through the
stage's runner, or through a launcher when it asks for several ranks), writes the entry
atomically, and returns an ``Outcome``: it never raises for a failing stage, so an executor
can report any failure the same way. ``child_main`` is the body of a fresh worker process;
``ray_stage`` the body of a Ray task.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from harness import trust
from harness.errors import HarnessError
from harness.jobs import Job, Outcome
from harness.progress import console_to, say
from harness.store import Store


def set_threads(threads: int) -> None:
    """Give this process ``threads`` CPU threads (and the processes it starts)."""
    if threads <= 0:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _device() -> str:
    """The device the stage's model ran on; empty for a stage that ran no model (data,
    grading), so a run's device list names only what computed. On a CPU it names the threads,
    the vector instructions torch's kernels used (AVX2, AVX512) and the CPU itself
    (``cpu_kind``): each can change the floats, and so the trained weights."""
    torch = sys.modules.get("torch")
    if torch is None:
        return ""
    if torch.cuda.is_available():
        return f"cuda x{torch.cuda.device_count()} ({torch.cuda.get_device_name(0)})"
    return (f"cpu ({torch.get_num_threads()} threads, {platform.machine()}, "
            f"{torch.backends.cpu.get_cpu_capability()}, {cpu_kind()})")


def cpu_kind() -> str:
    """``cpuinfo`` and a digest of the CPU's model name and feature flags: two machines whose
    torch reports the same instructions (AVX512) gave other quickstart figures (README), so
    the instructions alone do not name a machine kind; equal digests are the same kind."""
    import hashlib

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return f"cpuinfo {platform.processor() or 'unknown'}"
    first = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[:40])}
    text = f"{first.get('model name', '')}|{' '.join(sorted(first.get('flags', '').split()))}"
    return f"cpuinfo {hashlib.sha256(text.encode()).hexdigest()[:8]}"


def execute(job: Job) -> Outcome:
    """Serve or compute one stage; errors come back in ``Outcome.error``, never raised."""
    spec = job.spec
    store = Store(Path(job.root))
    trust.reset()  # the runner allows what the spec says; nothing carries over between stages
    set_threads(job.threads)
    if job.devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = job.devices
    out = Outcome.of(spec, key=job.key, entry=str(store.path(spec.kind, job.key)),
                     started=time.time(), pid=os.getpid(), host=platform.node(),
                     threads=job.threads, log=job.log)
    try:
        with store.lock(spec.kind, job.key):
            problem = store.problem(spec.kind, job.key)
            if problem not in (None, "missing"):
                say(f"warning: cache entry {spec.kind}/{job.key} ({spec.label}) is damaged "
                    f"({problem}); recomputing it")
            out.cached = problem is None and not job.force
            if not out.cached:
                record = {"stage": spec.model_dump(mode="json"), "key": job.key,
                          "inputs": job.inputs}
                with store.writing(spec.kind, job.key, record) as tmp:
                    inputs = {role: Path(p) for role, p in job.inputs.items()}
                    if spec.resources.ranks > 1:
                        from harness.launch import run_ranks

                        out.launch = run_ranks(job, inputs, tmp)
                    else:
                        from harness.plugins import registry
                        from harness.runners import run

                        run(spec, inputs, tmp, registry())
            out.digest = store.digest(spec.kind, job.key)
    except HarnessError as exc:
        out.error = str(exc)
    except Exception as exc:  # a plugin's bug: one line here, the traceback in the log
        traceback.print_exc()
        out.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    out.device = _device()
    out.finished = time.time()
    return out


def _watch(parent: int) -> None:
    """End this process and everything it started (its process group: vLLM's engine,
    accelerate's ranks) soon after ``parent`` is gone (checked every second)."""
    def loop() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            except PermissionError:
                pass

    threading.Thread(target=loop, daemon=True, name="harness-parent-watch").start()


def console_of(log: str) -> Path:
    """The file beside a stage's log holding what the run shows on its console: the
    harness's status lines and progress bars, never what a plugin prints."""
    path = Path(log)
    return path.with_name(f".{path.name}.console")


def run_logged(job: Job) -> Outcome:
    """``execute``, with this process's output going to the stage's log while it runs, and
    the harness's own lines to its console file too (``harness.progress.console_to``)."""
    if not job.log:
        return execute(job)
    Path(job.log).parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "a") as handle, open(console_of(job.log), "a") as console:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        console_to(console)
        try:
            return execute(job)
        finally:
            console_to(None)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)


def child_main(job_json: str, result: str) -> None:
    """The body of a fresh worker process: run the stage, leave its outcome in ``result``."""
    job = Job.model_validate_json(job_json)
    os.setpgrp()  # a group of its own, so the executor can stop everything the stage started
    if job.parent:
        _watch(job.parent)
    outcome = run_logged(job)
    tmp = f"{result}.tmp"
    Path(tmp).write_text(outcome.model_dump_json())
    os.replace(tmp, result)


def ray_stage(job_json: str) -> Outcome:
    """A Ray task: the job as the scheduler made it, once its inputs were done; its outcome
    names the node that ran it (several may share one host)."""
    import ray

    outcome = run_logged(Job.model_validate_json(job_json))
    return outcome.model_copy(update={"cluster_node": ray.get_runtime_context().get_node_id()})
