"""The published leaderboard: entries recorded from finished runs, rendered to Markdown, JSON and
a static HTML page.

An entry is one run (``leaderboard/entries/<suite>/<run id>.json``): its record
(``harness.record``: the manifest with models, seeds, versions and commit; the graph; the
results over seeds) and when it was added. The board has one section per suite, since
only runs of one suite share data and models; each method of each entry is a row. The rendered
files depend on the entries alone (no clock, no environment), so ``build --check`` can tell a
stale board from a current one. The HTML page draws its plots with ``harness.plots``
(matplotlib, as inline SVG; the ``plots`` extra), which a run's own page shares: it loads
nothing from the network and runs no script.
"""

from __future__ import annotations

from functools import cached_property
import html
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from harness import plots, quotes
from harness.bases import SINGULAR
from harness.errors import HarnessError, one_line
from harness.findings import Finding, findings
from harness.findings import table as findings_table
from harness.record import FILE, RunRecord, is_run, migrate
from harness.report import ANALYSIS_COLUMNS, Summary, analysis_cell, chance_cell, md_table, \
    summarise
from harness.schemas import FORMAT
from harness.stats import VERDICT_SEEDS, Estimate, provisional

BOARD_SCHEMA = 1
"""``leaderboard.json``'s layout."""


class Entry(RunRecord):
    """One run as published: its record (manifest, graph, results), when it was added, and
    whether it is a smoke run, which the board marks on every line."""

    added: str
    smoke: list[str] = []

    @property
    def id(self) -> str:
        return self.manifest.run_id

    @property
    def suite(self) -> str:
        return self.manifest.suite.name

    @cached_property
    def summaries(self) -> list[Summary]:
        """Recomputed from the stored results on every build, so a board always shows the
        current statistics (an entry written before a change in them re-renders with it)."""
        return summarise(self.results)

    @property
    def label(self) -> str:
        return f"{self.id} (SMOKE)" if self.smoke else self.id


def add(run_dir: Path, root: Path, allow_smoke: bool = False) -> Path:
    """Record a finished run as an entry under ``root/entries``; return the entry's path.
    A smoke run (``--limit``, ``target_check: warn``) is refused unless ``allow_smoke``, and
    then marked as one wherever the board shows it."""
    if not is_run(run_dir):
        raise HarnessError(f"{run_dir} is not a run directory (no {FILE}); "
                           "see `harness runs` for the runs there are")
    from harness.history import read, status

    run = read(run_dir)
    manifest = run.manifest
    if status(manifest) != "finished":
        raise HarnessError(f"run {manifest.run_id} is {status(manifest)}, not finished; "
                           "run the same command again to finish it, then add it")
    smoke = manifest.suite.smoke()
    if smoke and not allow_smoke:
        raise HarnessError(f"run {manifest.run_id} is a smoke run ({'; '.join(smoke)}), not a "
                           "benchmark result; rerun without those settings, or add it marked "
                           "as a smoke run with --allow-smoke")
    entry = Entry(**dict(run), smoke=smoke,
                  added=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    problem = unrenderable(entry)
    if problem:
        raise HarnessError(f"run {manifest.run_id} cannot go on a board: {problem}")
    path = root / "entries" / entry.suite / f"{entry.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entry.model_dump_json(indent=1) + "\n")
    return path


def read_entry(path: Path) -> Entry:
    """A published entry, of this record version or migrated from an older one. Raises
    OSError or ValueError (pydantic's ValidationError is one)."""
    return Entry.model_validate(migrate(json.loads(path.read_text())))


def board(root: Path) -> Path:
    """``root``, once it is known to be a leaderboard directory (one holding ``suites/`` or
    ``entries/``); the default, ``./leaderboard``, is the repository's own board."""
    if not root.is_dir() or not ((root / "entries").is_dir() or (root / "suites").is_dir()):
        raise HarnessError(f"{root} is not a leaderboard directory (one holding entries/ or "
                           "suites/); run from the repository's root, where ./leaderboard is, "
                           "or give --root DIR (for a new board: mkdir -p DIR/entries)")
    return root


def unrenderable(entry: Entry) -> str | None:
    """Why ``entry`` cannot be shown on a board (no test items behind a figure, or a table that
    fails to render it), or None."""
    empty = sorted({s.capability for s in entry.summaries if not s.items_n})
    if empty or not entry.summaries:
        return (f"no test items for {', '.join(empty) or 'any capability'}, so it has no "
                "figure to rank; fix the capability's test split and run again")
    try:
        verdicts = {entry.id: findings(entry.manifest.suite, entry.results, entry.transfer)}
        markdown([entry], verdicts)
        board_json([entry])
        page([entry], verdicts)
    except HarnessError:
        raise  # this machine's problem (no matplotlib), not the entry's
    except Exception as exc:  # a board must never fail on one entry; this says why
        return f"its tables do not render ({type(exc).__name__}: {one_line(exc)})"
    return None


def entries(root: Path, skipped: list[str] | None = None) -> list[Entry]:
    """Every entry under ``root/entries`` that a board can show. One that is invalid or does
    not render raises, or, given ``skipped``, is recorded there (with its fix) and left out."""
    board(root)
    out = []
    for path in sorted((root / "entries").glob("*/*.json")):
        try:
            entry = read_entry(path)
            problem = unrenderable(entry)
        except (OSError, ValueError) as exc:
            problem = f"invalid ({one_line(exc)}); re-add its run with `harness leaderboard add`"
        if problem:
            if skipped is None:
                raise HarnessError(f"leaderboard entry {path}: {problem}")
            skipped.append(f"leaderboard entry {path} left out: {problem}")
            continue
        out.append(entry)
    return out


def build(root: Path, skipped: list[str] | None = None) -> dict[str, str]:
    """The generated files' contents, by file name under ``root``; entries that cannot be
    shown go to ``skipped`` (they never stop the board)."""
    return _files(entries(root, [] if skipped is None else skipped))


def _files(found: list[Entry]) -> dict[str, str]:
    verdicts = {e.id: findings(e.manifest.suite, e.results, e.transfer) for e in found}
    return {"README.md": markdown(found, verdicts), "leaderboard.json": board_json(found),
            "index.html": page(found, verdicts)}


def stale(root: Path) -> list[str]:
    """The generated files that differ from what ``build`` makes now, and the docs pages
    whose quotes of the board do (``harness.quotes``)."""
    found = entries(root, [])
    return [name for name, text in _files(found).items()
            if not (root / name).is_file() or (root / name).read_text() != text] + \
        [str(p) for p in quotes.stale(root, quoter(found))]


def write(root: Path, skipped: list[str] | None = None) -> list[Path]:
    """Write the board's files, and the docs' quotes of it; the paths written."""
    found = entries(root, [] if skipped is None else skipped)
    out = []
    for name, text in _files(found).items():
        (root / name).write_text(text)
        out.append(root / name)
    return out + quotes.write(root, quoter(found))


def quoter(found: list[Entry]):
    """What a docs block quoting the board says (``harness.quotes``): for an entry's run id
    and a view, ``findings`` or one of its capabilities, the board's own Markdown."""
    by_id = {e.id: e for e in found}

    def quote(entry_id: str, view: str) -> str:
        entry = by_id.get(entry_id)
        if entry is None:
            raise HarnessError(f"a docs block quotes entry {entry_id}, which is not on the "
                               "board; fix its id, or add the run with `harness leaderboard add`")
        if view == "findings":
            return findings_table(findings(entry.manifest.suite, entry.results, entry.transfer))
        if view in {s.capability for s in entry.summaries}:
            return capability_table(entry, view)
        raise HarnessError(f"a docs block quotes view {view!r} of entry {entry_id}; give "
                           "'findings' or one of its capabilities")

    return quote


# --------------------------------------------------------------------------- tables


def _by_suite(found: list[Entry]) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = defaultdict(list)
    for e in found:
        groups[e.suite].append(e)
    return dict(sorted(groups.items()))


def _rows(entries_: list[Entry]) -> list[tuple[Entry, str, str, dict[str, Summary]]]:
    """(entry, mixture, method, summaries by capability) for every method of every entry."""
    out = []
    for e in entries_:
        groups: dict[tuple[str, str], dict[str, Summary]] = defaultdict(dict)
        for s in e.summaries:
            groups[(s.mixture, s.method)][s.capability] = s
        out += [(e, mixture, method, by_cap) for (mixture, method), by_cap in groups.items()]
    return out


def _capabilities(entries_: list[Entry]) -> list[str]:
    return list(dict.fromkeys(s.capability for e in entries_ for s in e.summaries))


def _pgr_table(entries_: list[Entry], caps: list[str]) -> tuple[list[str], list[list[str]]]:
    """The main table: every method of every entry, then per capability the PGR with its
    interval and whether W2S beats the weak model and the strong base. No mean over
    capabilities: their PGRs have intervals of different widths, often spanning 0."""
    rows = [[method, mixture, e.label,
             *[f"{by_cap[c].pgr_text()}; W2S: "
               f"{by_cap[c].generalizes}" if c in by_cap else "" for c in caps]]
            for e, mixture, method, by_cap in _rows(entries_)]
    return ["method", "mixture", "entry",
            *[f"{c}: PGR [95% CI]; beats weak and strong base?"
              for c in caps]], rows


DETAIL = ["chance", "strong base (best)", "weak base 0-shot", "weak", "ceiling", "W2S",
          "W2S - strong base [95% CI]", "beats weak and strong base?", "PGR [95% CI]"]
"""The per-capability detail columns after the method and mixture, before the analysis ones."""


ANALYSED = ("weak_label_acc", "train_label_acc", "train_distinct_2")


def _detail(s: Summary) -> list[str]:
    """A method's row of its capability's detail table: the baselines that could make the
    result empty beside it, whether it generalizes past them, and what its labels were."""
    best = f"{s.baselines[s.strong_base]} ({s.strong_base})" if s.strong_base else "n/a"
    weak0 = s.baselines.get("weak_0shot")
    return [chance_cell(s.chance), best,
            str(weak0) if weak0 else "n/a", str(s.weak), str(s.ceiling), str(s.w2s),
            s.vs_base.bracket() if s.vs_base else "n/a", s.generalizes, s.pgr_text(),
            *[analysis_cell(k, s.analysis.get(k)) for k in ANALYSED]]


def _detail_table(rows: list[tuple[Entry, str, str, dict[str, Summary]]], cap: str
                  ) -> tuple[list[str], list[list[str]]]:
    """One capability's detail table, as the Markdown and the page both show it: built once
    here, so the two cannot differ in their columns."""
    return (["method", "mixture", *DETAIL, *[ANALYSIS_COLUMNS[k] for k in ANALYSED]],
            [[method, mixture, *_detail(by_cap[cap])]
             for _, mixture, method, by_cap in rows if cap in by_cap])


def capability_table(e: Entry, cap: str) -> str:
    """One entry's detail table for ``cap``, in Markdown: what the docs quote."""
    return md_table(*_detail_table(_rows([e]), cap))


def models_line(e: Entry) -> str:
    """Provenance of an entry: models, seeds, commit, device, and where its plugins came from."""
    seeds = ",".join(map(str, e.manifest.suite.seeds))
    commit = (e.manifest.git.get("commit") or "")[:8] or "unknown"
    if e.manifest.git.get("dirty"):
        commit += " (DIRTY TREE: uncommitted changes; the commit alone does not reproduce it)"
    smoke = f"SMOKE RUN, not a benchmark result ({'; '.join(e.smoke)}); " if e.smoke else ""
    n = len(e.manifest.suite.seeds)
    counts = (f"intervals count test-set and seed noise ({n - 1} degrees of freedom)"
              if n > 1 else "intervals count test-set noise only")
    early = provisional(n)
    verdicts = f", verdicts provisional ({early})" if early else ""
    return (f"{e.id}: {smoke}{e.manifest.suite.supervised_by} -> {e.manifest.suite.strong}; seeds "
            f"{seeds}: {counts}{verdicts}; commit {commit}, "
            f"{e.manifest.device or 'every stage served from the cache'}; "
            f"plugins from {_plugins(e)}")


def _plugins(e: Entry) -> str:
    """Each distribution that supplied a plugin, with its version and what it supplied."""
    by_dist: dict[str, list[str]] = {}
    for p in e.manifest.plugins:
        by_dist.setdefault(f"{p['dist']} {p['dist_version']}", []).append(
            f"{SINGULAR[p['kind']]} {p['name']}")
    return "; ".join(f"{dist} ({', '.join(names)})" for dist, names in by_dist.items())


HEADER = [
    "A method generalizes weak to strong only where W2S beats both its weak supervisor and the "
    "best strong baseline on the test split (the untuned strong model 0- or k-shot, or the "
    "format-only control: the strong model trained on the weak labels shuffled across items), "
    "each by a paired 95% interval above 0; the tables say which, and say \"below\" where the "
    "interval lies wholly under 0.",
    "PGR = (W2S - weak) / (ceiling - weak) over every seed's test items, with a 95% Fieller "
    "interval (the whiskers), none where the gap's own interval reaches 0. Every interval is a "
    "t interval on the seeds' estimates (docs/statistics.md). Each entry's line says what its "
    f"intervals count: with fewer than {VERDICT_SEEDS} seeds, the seeds' noise is not measured, "
    "one seed's intervals are marked \"items only\", and every verdict is provisional.",
    "A comparison that shows nothing says what it could have shown: \"could detect >= X\" is "
    "the smallest effect a run of its seeds and test items finds at 80% power, from the noise "
    "its run measured (the seeds' share pooled over the methods of a capability; the PGR's "
    "counting the gap's uncertainty; docs/statistics.md). None shown is not none there.",
    "Verdicts are per cell, each at 95%, with no correction for the many cells of a board: a "
    "suite of 20 cells with no effect anywhere shows about one \"yes\" by chance. Read a lone "
    "\"yes\" beside many \"no\"s with that in mind; the findings say how many comparisons each "
    "rests on."]
"""The board's opening lines, in the Markdown and on the page alike."""


def markdown(found: list[Entry], verdicts: dict[str, list[Finding]]) -> str:
    parts = ["# Leaderboard", "",
             "Generated by `harness leaderboard build` from `entries/`; do not edit by hand.",
             *HEADER, ""]
    if not found:
        parts.append("No entries yet: `harness leaderboard add RUN`.")
    for suite, es in _by_suite(found).items():
        caps = _capabilities(es)
        parts += [f"## {suite}", "", *[f"- {models_line(e)}" for e in es], "",
                  "### PGR by method and capability", ""]
        parts += [md_table(*_pgr_table(es, caps)), ""]
        for e in es:
            found = verdicts[e.id]
            if found:
                parts += [f"### The paper's findings ({e.id})", "", findings_table(found), ""]
        for cap in caps:
            parts += [f"### {cap}", "", md_table(*_detail_table(_rows(es), cap)), ""]
    return "\n".join(parts).rstrip() + "\n"


def board_json(found: list[Entry]) -> str:
    """The board as data: per suite, every method's per-capability estimates and provenance."""
    data = {"schema_version": BOARD_SCHEMA, "suites": {}}
    for suite, es in _by_suite(found).items():
        data["suites"][suite] = [
            {"entry": e.id, "smoke": e.smoke, "method": method, "mixture": mixture,
             "weak_model": e.manifest.suite.weak, "strong_model": e.manifest.suite.strong,
             "seeds": e.manifest.suite.seeds, "commit": e.manifest.git.get("commit"),
             "plugins": [{k: p[k] for k in ("kind", "name", "version", "dist", "dist_version")}
                         for p in e.manifest.plugins],
             "capabilities": {c: s.model_dump(exclude={"mixture", "method"})
                              for c, s in by_cap.items()}}
            for e, mixture, method, by_cap in _rows(es)
        ]
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- HTML

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 9px; text-align: right; }
th:first-child, td:first-child, td.name { text-align: left; }
figure { margin: 0.5em 0 1.5em; } figure svg { max-width: 100%; height: auto; }
pre { font-size: 12px; overflow-x: auto; }
""".strip()


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(found: list[Entry], verdicts: dict[str, list[Finding]]) -> str:
    body = ["<h1>W2S leaderboard</h1>",
            *[f"<p>{_e(line)}</p>" for line in HEADER],
            "<p>Generated by <code>harness leaderboard build</code>.</p>"]
    if not found:
        body.append("<p>No entries yet.</p>")
    for suite, es in _by_suite(found).items():
        body += section(suite, es, verdicts)
    return html_page("W2S leaderboard", body)


def _untuned(s: Summary) -> Estimate | None:
    """The best untuned strong model's accuracy (0- or k-shot), the format control aside."""
    found = [v for k, v in s.baselines.items() if k.startswith("strong_") and k != FORMAT]
    return max(found, key=lambda e: e.mean, default=None)


def html_page(title: str, body: list[str]) -> str:
    """A self-contained page: inline CSS and SVG, no script, nothing from the network."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def section(suite: str, es: list[Entry], verdicts: dict[str, list[Finding]]) -> list[str]:
    """One suite's part of a page (the board's, or one run's): models, the PGR table and
    plot, the findings, and per capability the detail table and the accuracy plot."""
    caps = _capabilities(es)
    rows = _rows(es)
    body = [f'<section id="{_e(suite)}"><h2>{_e(suite)}</h2><ul>'
            + "".join(f"<li>{_e(models_line(e))}</li>" for e in es) + "</ul>",
            "<h3>PGR by method and capability</h3>" + _table(*_pgr_table(es, caps))]
    for e in es:
        found = verdicts[e.id]
        if found:
            body.append(f"<h3>The paper's findings ({_e(e.id)})</h3><ol>" + "".join(
                f"<li><b>{_e(f.claim)}</b>: {_e(f.headline())}<ul>"
                + "".join(f"<li>{_e(line)}</li>" for line in f.evidence) + "</ul></li>"
                for f in found) + "</ol>")
    series = [(f"{method} ({mixture})", [by_cap[c].pgr if c in by_cap else None for c in caps])
              for e, mixture, method, by_cap in rows]
    values = [v for _, vs in series for est in vs if est
              for v in (est.mean, est.low, est.high) if v is not None] or [0.0]
    body.append(plots.bars(f"{suite}: PGR per capability and method, with 95% paired "
                           "intervals", caps, series,
                           max(-2.0, min(-0.25, min(values))), min(3.0, max(1.0, max(values))),
                           gid=f"pgr-{suite}"))
    for k, cap in enumerate(caps):
        picked = [(f"{method} ({mixture})", by_cap[cap]) for e, mixture, method, by_cap in rows
                  if cap in by_cap]
        body.append(f"<h3>{_e(cap)}</h3>" + _table(*_detail_table(rows, cap)))
        body.append(plots.bars(
            f"{cap}: the best untuned strong model, the format-only control, weak, W2S and "
            "ceiling accuracy (95% intervals over seeds)", [p[0] for p in picked],
            [("untuned strong", [_untuned(s) for _, s in picked]),
             ("format control", [s.baselines.get(FORMAT) for _, s in picked]),
             *[(role, [getattr(s, role) for _, s in picked])
               for role in ("weak", "w2s", "ceiling")]], 0.0, 1.0,
            gid=f"accuracy-{suite}-{k}"))
    body.append("</section>")
    return body
