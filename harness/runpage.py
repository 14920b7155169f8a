"""A run's own page (`harness show RUN --html`): the board's section for this one run (its PGR
and accuracy plots with their intervals, its tables and findings), the loss curve of each of
its training stages, and its report as the terminal prints it. One self-contained HTML file,
drawn with the same code as the board's page."""

from __future__ import annotations

import html
from pathlib import Path

from harness import plots
from harness.findings import findings
from harness.history import finished, render
from harness.leaderboard import Entry, models_line, html_page, section
from harness.record import curves
from harness.store import Store


def write(store: Store, ref: str, out: Path | None = None) -> Path:
    """Write the page of run ``ref`` to ``out`` (default: ``page.html`` in its directory)."""
    path, run = finished(store, ref, "a page draws")
    m = run.manifest
    entry = Entry(**dict(run), added="", smoke=m.suite.smoke())
    verdicts = {entry.id: findings(m.suite, run.results, run.transfer)}
    lines = {label: [(h["step"], h["loss"]) for h in rows if "loss" in h]
             for label, rows in curves(run, store).items()}
    body = [f"<h1>Run {html.escape(m.run_id)}</h1>", f"<p>{html.escape(models_line(entry))}</p>",
            *section(m.suite.name, [entry], verdicts), "<h2>Training curves</h2>",
            plots.curves("Training loss of each training stage, per optimizer step", lines,
                         gid="curves") if lines else
            "<p>No training curve is stored for this run's training stages (their trainer "
            "logged none, or the cache they were in is not this one).</p>",
            "<h2>Report</h2>",
            f"<pre>{html.escape(render(m.suite, run.results, run.transfer, m.splits))}</pre>"]
    target = out or path / "page.html"
    target.write_text(html_page(f"run {m.run_id}", body))
    return target
