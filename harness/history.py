"""Past runs: listing them with their status, finding one by id, and showing its report again
from its stored results (so it shows the current statistics and verdicts)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from tabulate import tabulate

from harness.errors import HarnessError, SuiteError, one_line
from harness.findings import findings
from harness.findings import table as findings_table
from harness.outputs import SplitAccount
from harness.report import report
from harness.record import RunRecord, is_run, load
from harness.schemas import CapabilityResult, Manifest, Suite, TransferResult
from harness.store import Store


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
    for path in (store.root / "runs").glob("*/"):
        if not is_run(path):
            continue
        try:
            manifest = load(path).manifest
            started = datetime.fromisoformat(manifest.started)
        except (OSError, ValueError):
            continue  # unreadable: being written by another process, or damaged
        started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
        runs.append((started, path.name, path, manifest))
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
    if Path(ref).is_dir() and is_run(Path(ref)):
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


def read(path: Path) -> RunRecord:
    """The record of the run in ``path``, or one error line saying why it cannot be read."""
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read run {path.name}: {one_line(exc)}") from None


def finished(store: Store, ref: str, needs: str) -> tuple[Path, RunRecord]:
    """Run ``ref``'s folder and record, or one error line when it has not finished (``needs``:
    what wants its results, e.g. ``a page draws``)."""
    path = find_run(store, ref)
    run = read(path)
    if status(run.manifest) != "finished":
        raise HarnessError(f"run {run.manifest.run_id} is {status(run.manifest)}: {needs} a "
                           "finished run's results; run the same command again to finish it")
    return path, run


def show(store: Store, ref: str) -> str:
    """A run's report, rendered again from its stored results (so it shows the current
    statistics and verdicts), or where it stopped when it did not finish."""
    run = read(find_run(store, ref))
    m = run.manifest
    done = sum(s.error is None for s in m.stages)
    head = f"run {m.run_id}: suite {m.suite.name}, {status(m)}, {done} stages done"
    if status(m) == "finished":
        return f"{head}\n\n{render(m.suite, run.results, run.transfer, m.splits)}"
    tail = f"\nerror: {m.error}" if m.error else ""
    last = f"\nlast stage: {m.stages[-1].label}" if m.stages else ""
    hint = "" if status(m) == "running" else "\nrun the same command again to resume it"
    return f"{head}{last}{tail}{hint}"
