"""Plugins cannot drown or mislead the console, and `harness check` cannot touch a user's home
(issue 30). Each test fails on the code before it: a selector's 20,000 printed lines reached
the run's console, a plugin printing on import flooded `harness list`, a 1.5 s import went
unreported, a failed stage put its traceback and its error twice on the console, one invalid
class hid its valid siblings (and its error had no HARNESS_BLOCK_PLUGINS hint), an edited copy
was dropped without a word, `harness check NAME` checked one of two plugins of that name, a
capability without its data cascaded into follow-on errors, and the kit wrote in $HARNESS_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import fake_suite, harness_cli, plugin_site
from test_bad_input import _error_line

SELECTOR = '''
"""A selector plugin for the isolation tests."""
import sys
from harness import Selector, hookimpl
{top}

class Loud(Selector):
    """Keeps everything{doc}."""

    name = "{name}"
    version = 1

    def select(self, pool, ctx):
{body}
        return list(pool)
{more}

@hookimpl
def register_selectors(register):
    register(Loud){register}
'''


def _site(tmp_path: Path, name: str = "loud", body: str = "        pass", top: str = "",
          more: str = "", register: str = "", package: str = "loud_plugin",
          dist: str = "loud-plugin") -> Path:
    text = SELECTOR.format(name=name, body=body, top=top, more=more, register=register,
                           doc="")
    return plugin_site(tmp_path / package, package, text, dist=dist)


def _env(*sites: Path, home: Path | None = None) -> dict[str, str]:
    import os

    env = {"PYTHONPATH": os.pathsep.join(map(str, sites))}
    return {**env, "HARNESS_HOME": str(home)} if home else env


@pytest.mark.slow  # stages in workers, as a run has them: the console is the point
def test_what_a_plugin_prints_in_a_stage_stays_in_its_log(tmp_path):
    site = _site(tmp_path, body="        for i in range(20000):\n"
                                "            print(f'noise {i}')\n"
                                "            print(f'noise {i}', file=sys.stderr)")
    suite = fake_suite(tmp_path, methods="  - {name: loud, selector: {name: loud}}")
    proc = harness_cli("run", "--suite", str(suite), env=_env(site, home=tmp_path / "h"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "noise 1" not in proc.stdout + proc.stderr
    assert "select loud" in proc.stderr  # the harness's own lines still show
    (log,) = (tmp_path / "h" / "runs").glob("*/logs/*select_loud*.log")
    assert log.read_text().count("noise") == 40000


def test_printing_or_slow_imports_are_one_warning_each(tmp_path):
    site = _site(tmp_path, top="import time\ntime.sleep(1.5)\n"
                               "for i in range(20000):\n    print('noise', i)\n")
    proc = harness_cli("list", env=_env(site))
    assert proc.returncode == 0
    assert "noise" not in proc.stdout
    warned = [x for x in proc.stderr.splitlines() if x.startswith("warning: plugin 'loud'")]
    assert len(warned) == 2, proc.stderr
    assert "printed 20000 lines while loading" in warned[0]
    took = float(warned[1].split("took ")[1].split(" s")[0])
    assert took >= 1.5 and "defer heavy imports" in warned[1]


@pytest.mark.slow
def test_a_failed_stage_is_one_error_line_with_its_log_and_no_traceback(tmp_path):
    site = _site(tmp_path, body="        raise ValueError('boom')")
    suite = fake_suite(tmp_path, methods="  - {name: loud, selector: {name: loud}}")
    proc = harness_cli("run", "--suite", str(suite), env=_env(site, home=tmp_path / "h"))
    line = _error_line(proc)
    assert "ValueError: boom" in line and "its log: " in line
    assert "Traceback" not in proc.stderr and proc.stderr.count("ValueError: boom") == 1
    log = Path(line.split("its log: ")[1])
    assert "Traceback" in log.read_text()


BAD_DEFAULT = '''
from pydantic import Field
from harness import Params


class Bad(Selector):
    """A selector whose Params default its own field refuses."""

    name = "bad_default"
    version = 1

    class Params(Params):
        fraction: float = Field("half")

    def select(self, pool, ctx):
        return pool
'''


def test_an_invalid_class_is_refused_alone_with_the_block_hint(tmp_path):
    site = _site(tmp_path, more=BAD_DEFAULT, register="\n    register(Bad)")
    listed = harness_cli("list", "selectors", env=_env(site))
    assert listed.returncode == 0 and "loud" in listed.stdout
    assert "bad_default" in listed.stderr and "HARNESS_BLOCK_PLUGINS=loud" in listed.stderr
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run",
                       env=_env(site, home=tmp_path / "h"))
    line = _error_line(proc)
    assert "bad_default" in line and "HARNESS_BLOCK_PLUGINS=loud" in line


def test_the_kit_fails_a_selector_returning_edited_copies(tmp_path):
    site = _site(tmp_path, name="copier",
                 body="        return [i.model_copy(update={'label': ' 0'}) for i in pool]")
    proc = harness_cli("check", "copier", env=_env(site))
    assert proc.returncode == 1
    (row,) = [x for x in proc.stdout.splitlines() if "never edits its pool" in x]
    assert "in the items it returned" in row and "FAIL" in row


def test_check_refuses_a_name_two_plugins_register(tmp_path):
    one = _site(tmp_path, name="twin", package="twina_plugin", dist="twin-a")
    two = _site(tmp_path, name="twin", package="twinb_plugin", dist="twin-b")
    proc = harness_cli("check", "twin", env=_env(one, two))
    line = _error_line(proc)
    assert "'twin' names more than one plugin" in line
    assert "twin-a" in line and "twin-b" in line


def test_check_stops_a_capability_at_its_missing_data():
    """gsm8k without --source reads the hub, which the tests cannot reach: one failure."""
    proc = harness_cli("check", "gsm8k")
    assert proc.returncode == 1
    failed = [x for x in proc.stdout.splitlines() if "FAIL" in x]
    assert len(failed) == 1 and "did not run" in failed[0], proc.stdout


def test_check_runs_plugin_code_in_a_throwaway_home(tmp_path):
    site = _site(tmp_path, name="writer",
                 body="        from harness.store import home\n"
                      "        home().mkdir(parents=True, exist_ok=True)\n"
                      "        (home() / 'written-by-plugin').write_text('x')")
    home = tmp_path / "real-home"
    proc = harness_cli("check", "writer", env=_env(site, home=home))
    assert proc.returncode == 0, proc.stdout
    assert not (home / "written-by-plugin").exists()
