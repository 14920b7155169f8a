"""The leaderboard: entries from runs, generated files, the stale check, and the page in a real
headless Chromium."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from conftest import browser, errorbars, harness_cli
from harness import leaderboard, record
from harness.errors import HarnessError
from harness.record import RunRecord
from harness.report import ANALYSIS_COLUMNS
from harness.schemas import CapabilityResult, Manifest, Suite
from harness.store import write_json, write_jsonl

METHODS = ("naive", "rm-two-stage", "self-bootstrap")
CAPS = ("synth_scan", "synth_arith")


def _items(*accuracies: float, n: int = 100) -> dict[str, list[float]]:
    """Per-item scores with the given accuracies, nested (what the weak model gets right, the
    W2S model gets right too)."""
    return {role: [float(i < round(a * n)) for i in range(n)]
            for role, a in zip(("weak", "w2s", "ceiling"), accuracies)}


def _fake_run(home: Path, suite: str, run_id: str, shift: float = 0.0,
              status: str = "finished", dirty: bool = False, limit: int | None = None,
              legacy: bool = False) -> Path:
    """A run directory as `harness run` leaves it (results written here, not computed); with
    ``legacy``, in the layout before the one record file (version 0: a manifest.json and a
    results.jsonl)."""
    run = home / "runs" / run_id
    run.mkdir(parents=True)
    results = [
        CapabilityResult(run_id=run_id, suite=suite, seed=seed, mixture="joint", method=m,
                         capability=c, weak=0.2 + 0.01 * seed, ceiling=0.6,
                         w2s=0.3 + 0.1 * k + shift + 0.01 * seed,
                         pgr=(0.1 + 0.1 * k + shift) / 0.4, n_test=100,
                         items=_items(0.2 + 0.01 * seed, 0.3 + 0.1 * k + shift + 0.01 * seed, 0.6),
                         analysis={"weak_label_acc": 0.2, "train_n": 50.0})
        for seed in (0, 1, 2) for k, m in enumerate(METHODS) for c in CAPS
    ]
    manifest = Manifest(run_id=run_id, suite=Suite(name=suite, weak="w", strong="s",
                                                   seeds=[0, 1, 2], limit=limit,
                                                   capabilities=[{"name": c} for c in CAPS]),
                        argv=["harness"], status=status, started="2026-11-23T00:00:00",
                        python="3.11", device="cpu", backend="hf",
                        git={"commit": "0123456789abcdef", "dirty": dirty},
                        plugins=[{"kind": "selectors", "name": "mine", "version": 2,
                                  "owner": "mine", "dist": "my-w2s", "dist_version": "1.4"},
                                 {"kind": "trainers", "name": "sft", "version": 1,
                                  "owner": "sft", "dist": "w2s-harness", "dist_version": "0.1.0"}])
    if legacy:
        write_jsonl(run / "results.jsonl", [r.model_dump() for r in results])
        write_json(run / "manifest.json", manifest.model_dump(mode="json"))
    else:
        record.save(run, RunRecord(manifest=manifest, results=results))
    return run


def test_add_build_and_check(tmp_path):
    root = tmp_path / "board"
    leaderboard.add(_fake_run(tmp_path, "quick", "r1"), root)
    assert leaderboard.stale(root) == ["README.md", "leaderboard.json", "index.html"]
    leaderboard.write(root)
    assert leaderboard.stale(root) == []
    md = (root / "README.md").read_text()
    assert "## quick" in md and "| rm-two-stage | joint | r1 |" in md and "±" in md
    board = json.loads((root / "leaderboard.json").read_text())
    (row,) = [r for r in board["suites"]["quick"] if r["method"] == "naive"]
    # The PGR: the ratio of the means over every seed's items, with its interval.
    value = row["capabilities"]["synth_scan"]["pgr"]
    assert value["mean"] == pytest.approx((0.31 - 0.21) / (0.6 - 0.21))
    assert value["low"] < value["mean"] < value["high"]
    assert row["commit"] == "0123456789abcdef"
    assert "DIRTY" not in md
    # Which distribution (and version) supplied each plugin of the entry.
    assert "plugins from my-w2s 1.4 (selector mine); w2s-harness 0.1.0 (trainer sft)" in md
    assert {"kind": "selectors", "name": "mine", "version": 2, "dist": "my-w2s",
            "dist_version": "1.4"} in row["plugins"]
    # A second entry makes the board stale until it is rebuilt, and appears in every file; it
    # came from a tree with uncommitted changes, and the board says so.
    leaderboard.add(_fake_run(tmp_path, "quick", "r2", shift=0.05, dirty=True), root)
    assert leaderboard.stale(root) == ["README.md", "leaderboard.json", "index.html"]
    leaderboard.write(root)
    page = (root / "index.html").read_text()
    assert "r2: w -&gt; s; seeds 0,1,2: intervals count test-set and seed noise (2 degrees " \
        "of freedom); commit 01234567 (DIRTY TREE" in page
    md = (root / "README.md").read_text()
    assert "r1: w -> s; seeds 0,1,2: intervals count test-set and seed noise (2 degrees of " \
        "freedom); commit 01234567, cpu" in md
    assert "r2: w -> s; seeds 0,1,2: intervals count test-set and seed noise (2 degrees of " \
        "freedom); commit 01234567 (DIRTY TREE" in md
    # A hand edit is caught too.
    (root / "README.md").write_text(md + "edited\n")
    assert leaderboard.stale(root) == ["README.md"]


def test_unfinished_or_missing_runs_are_refused(tmp_path):
    with pytest.raises(HarnessError, match="not finished"):
        leaderboard.add(_fake_run(tmp_path, "quick", "r1", status="failed"), tmp_path / "b")
    with pytest.raises(HarnessError, match="not a run directory"):
        leaderboard.add(tmp_path, tmp_path / "b")


def test_a_smoke_run_is_refused_or_marked_on_every_line(tmp_path):
    root = tmp_path / "board"
    run = _fake_run(tmp_path, "quick", "r1", limit=40)
    with pytest.raises(HarnessError, match=r"smoke run \(limit 40.*--allow-smoke"):
        leaderboard.add(run, root)
    leaderboard.add(run, root, allow_smoke=True)
    leaderboard.write(root)
    md = (root / "README.md").read_text()
    assert "r1: SMOKE RUN, not a benchmark result (limit 40" in md
    assert "| naive | joint | r1 (SMOKE) |" in md
    assert "SMOKE RUN" in (root / "index.html").read_text()
    (row, *_) = json.loads((root / "leaderboard.json").read_text())["suites"]["quick"]
    assert row["smoke"] and row["smoke"][0].startswith("limit 40")


def test_leaderboard_bad_input_is_one_error_line(tmp_path):
    home = tmp_path / "home"
    env = {"HARNESS_HOME": str(home)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("build",), ("build", "--check"), ("add", "latest")):
        proc = harness_cli("leaderboard", *args, env=env, cwd=elsewhere)
        assert proc.returncode == 2, (args, proc.stderr)
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith("error: leaderboard is not a leaderboard directory") and \
            "--root DIR" in line, line
    _fake_run(home, "quick", "20261123T000000_quick_abc123", status="failed")
    root = tmp_path / "board"
    proc = harness_cli("leaderboard", "add", "latest", "--root", str(root), env=env)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "is failed, not finished" in line and "Errno" not in line, line
    _fake_run(home, "quick", "20261124T000000_quick_abc124", limit=40)
    proc = harness_cli("leaderboard", "add", "latest", "--root", str(root), env=env)
    assert proc.returncode == 2 and "--allow-smoke" in proc.stderr, proc.stderr


def test_the_hint_after_add_is_exact(tmp_path):
    home, root = tmp_path / "home", tmp_path / "my board"
    _fake_run(home, "quick", "20261123T000000_quick_abc123")
    proc = harness_cli("leaderboard", "add", "latest", "--root", str(root),
                       env={"HARNESS_HOME": str(home)}, check=True)
    hint = proc.stdout.split("now run `", 1)[1].split("`", 1)[0]
    assert hint == f"harness leaderboard build --root '{root}'"
    harness_cli(*shlex.split(hint)[1:], check=True)
    assert leaderboard.stale(root) == []


def test_cli_check_exit_status(tmp_path):
    home, root = tmp_path / "home", tmp_path / "board"
    _fake_run(home, "quick", "20261123T000000_quick_abc123")
    env = {"HARNESS_HOME": str(home)}
    harness_cli("leaderboard", "add", "latest", "--root", str(root), env=env, check=True)
    assert harness_cli("leaderboard", "build", "--check", "--root", str(root)).returncode == 1
    harness_cli("leaderboard", "build", "--root", str(root), check=True)
    assert harness_cli("leaderboard", "build", "--check", "--root", str(root)).returncode == 0
    runs = harness_cli("runs", env=env, check=True).stdout
    assert "20261123T000000_quick_abc123" in runs and "finished" in runs
    shown = harness_cli("show", "abc123", env=env, check=True).stdout
    assert shown.startswith("run 20261123T000000_quick_abc123: suite quick, finished")
    assert harness_cli("show", "nosuchrun", env=env).returncode == 2


def test_the_published_board_is_current():
    """CI fails when someone adds an entry without rebuilding the published files."""
    root = Path(__file__).resolve().parents[1] / "leaderboard"
    assert leaderboard.stale(root) == [], "run `harness leaderboard build`"


def _md_headers(markdown: str) -> list[list[str]]:
    """Every Markdown table's header cells (the line before each |---| separator)."""
    lines = markdown.splitlines()
    return [[c.strip() for c in lines[i - 1].strip("|").split("|")]
            for i, line in enumerate(lines) if line.startswith("|---")]


def _html_headers(page: str) -> list[list[str]]:
    import html
    import re

    return [[html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", head)]
            for head in re.findall(r"<thead>(.*?)</thead>", page)]


def test_markdown_and_page_show_the_same_columns():
    """Every table of the board's Markdown has a table with the same columns, in order, on the
    page, over the published entries (one builder per table makes it so)."""
    built = leaderboard.build(Path(__file__).resolve().parents[1] / "leaderboard")
    md, page = _md_headers(built["README.md"]), _html_headers(built["index.html"])
    detail = [h for h in md if h[:2] == ["method", "mixture"] and "W2S" in h]
    assert detail and all(ANALYSIS_COLUMNS["weak_label_acc"] in h for h in detail)
    for headers in md:
        assert headers in page, headers


@pytest.mark.slow  # a browser, or whole runs: the full tier (CI)
def test_page_renders_every_entry_without_console_errors(tmp_path):
    from selenium.webdriver.common.by import By

    root = tmp_path / "board"
    for k, suite in enumerate(("quick", "other")):
        leaderboard.add(_fake_run(tmp_path, suite, f"run{k}", shift=0.05 * k), root)
    leaderboard.write(root)
    driver = browser(tmp_path)
    try:
        driver.get((root / "index.html").as_uri())
        assert driver.title == "W2S leaderboard"
        text = driver.find_element(By.TAG_NAME, "body").text
        for suite in ("quick", "other"):
            assert driver.find_element(By.ID, suite).is_displayed()
        for method in METHODS:
            assert method in text
        assert "run0" in text and "run1" in text
        # Every PGR bar carries its interval as an error bar, drawn and visible; so does
        # every weak, W2S and ceiling bar (these runs have no baselines).
        for suite in ("quick", "other"):
            assert len(errorbars(driver, f"pgr-{suite}")) == len(METHODS) * len(CAPS)
            for k in range(len(CAPS)):
                assert len(errorbars(driver, f"accuracy-{suite}-{k}")) == 3 * len(METHODS)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        # The published board, built from the quick suites' real runs, renders every entry.
        published = Path(__file__).resolve().parents[1] / "leaderboard"
        driver.get((published / "index.html").as_uri())
        text = driver.find_element(By.TAG_NAME, "body").text
        for entry in leaderboard.entries(published):
            assert entry.id in text
            assert all(s.method in text for s in entry.summaries)
            assert errorbars(driver, f"pgr-{entry.suite}")
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        shot = Path(os.environ.get("HARNESS_SCREENSHOT", tmp_path / "leaderboard.png"))
        driver.set_window_size(1200, driver.execute_script("return document.body.scrollHeight"))
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()


def test_runs_counts_only_the_stages_that_finished(tmp_path):
    from harness.schemas import StageRecord
    from harness.history import runs_table, show
    from harness.store import Store

    run = _fake_run(tmp_path, "quick", "20261123T000000_quick_abc123", status="failed")
    done = record.load(run)
    done.manifest.stages = [
        StageRecord(stage="train", key="k1", label="train weak", cached=False, seconds=1.0),
        StageRecord(stage="train", key="k2", label="train ceiling", cached=False, seconds=1.0,
                    error="boom")]
    record.save(run, done)
    store = Store(tmp_path)
    assert "1 (1 computed), 1 failed" in runs_table(store)
    assert show(store, "latest").startswith(
        "run 20261123T000000_quick_abc123: suite quick, failed, 1 stages done")


def test_latest_is_the_run_that_started_last_even_within_one_second(tmp_path):
    """Run ids stamp whole seconds and end in a random tail: two runs started in one second
    must still list, and resolve ``latest``, by their start time, not by their names."""
    from harness.history import find_run, runs_table
    from harness.store import Store

    ids = {"2026-11-23T00:00:00.100000+00:00": "20261123T000000_quick_ffffff",
           "2026-11-23T00:00:00.900000+00:00": "20261123T000000_quick_000000"}
    for started, run_id in ids.items():
        run = _fake_run(tmp_path, "quick", run_id)
        done = record.load(run)
        done.manifest.started = started
        record.save(run, done)
    store = Store(tmp_path)
    assert find_run(store, "latest").name == "20261123T000000_quick_000000"
    table = runs_table(store)
    assert table.index("quick_ffffff") < table.index("quick_000000")


def test_docs_quote_the_board_and_a_changed_figure_is_caught(tmp_path):
    """Issue 48: a docs block quoting an entry is regenerated by the build, and the stale check
    names a page whose quoted figure differs from the board's (the broken version: one
    figure edited by hand)."""
    from harness import quotes

    root = tmp_path / "board"
    leaderboard.add(_fake_run(tmp_path, "quick", "r1"), root)
    run_id = leaderboard.entries(root)[0].id
    cap = leaderboard.entries(root)[0].summaries[0].capability
    page = tmp_path / "docs" / "results.md"
    page.parent.mkdir()
    page.write_text(f"Before.\n\n<!-- board: {run_id} {cap} -->\n<!-- /board -->\n\nAfter.\n"
                    f"<!-- board: {run_id} findings -->\nold words\n<!-- /board -->\n")
    leaderboard.write(root)
    text = page.read_text()
    assert "| method | mixture | chance |" in text and "old words" not in text
    assert text.startswith("Before.") and "After." in text
    assert leaderboard.stale(root) == []
    figure = next(w for w in text.split() if w.count(".") == 1 and w[0].isdigit())
    page.write_text(text.replace(figure, "0.999", 1))
    assert leaderboard.stale(root) == [str(page)]
    page.write_text(text.replace(run_id, "nosuchrun", 1))
    with pytest.raises(HarnessError, match="entry nosuchrun, which is not on the board"):
        quotes.stale(root, leaderboard.quoter(leaderboard.entries(root)))
