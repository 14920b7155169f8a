"""`harness show RUN --html`: one self-contained page per run, drawn with the board's code,
checked in headless Chromium."""

from __future__ import annotations

import re

import pytest

from conftest import browser, errorbars, fake_suite, harness_cli, run_fake
from harness.record import load
from harness.report import summarise


@pytest.fixture
def run(tmp_path):
    return run_fake(fake_suite(tmp_path, seeds="[0, 1]"), tmp_path / "home")[0]


def test_the_page_holds_the_runs_plots_tables_and_report_and_loads_nothing(run, tmp_path):
    out = tmp_path / "page.html"
    proc = harness_cli("show", str(run), "--html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(out)
    page = out.read_text()
    for part in ('id="pgr-fake-errorbars"', 'id="accuracy-fake-0-errorbars"',
                 "PGR by method and capability", "<pre>## Baselines",
                 "No training curve is stored"):  # the fake trainer logs none
        assert part in page, part
    assert "<script" not in page
    assert not re.findall(r'(?:src|href)="(?!#)', page), "it loads nothing, links only within"
    assert harness_cli("show", str(run), "--html").stdout.strip() == str(run / "page.html")


def test_out_without_html_is_one_error_line(run):
    proc = harness_cli("show", str(run), "--out", "x.html")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --out goes with --html")


@pytest.mark.slow  # a browser, or whole runs: the full tier (CI)
def test_the_pgr_plot_and_its_error_bars_show_in_chromium(run, tmp_path):
    from selenium.webdriver.common.by import By

    out = tmp_path / "page.html"
    assert harness_cli("show", str(run), "--html", "--out", str(out)).returncode == 0
    driver = browser(tmp_path)
    try:
        driver.get(out.as_uri())
        assert driver.title == f"run {run.name}"
        # a bar per capability, with its PGR's interval where the run has one
        assert len(errorbars(driver, "pgr-fake")) == sum(
            1 for s in summarise(load(run).results)
            if s.pgr and s.pgr.low is not None and s.pgr.high is not None) > 0
        assert errorbars(driver, "accuracy-fake-0")
        assert "Report" in driver.find_element(By.TAG_NAME, "body").text
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
