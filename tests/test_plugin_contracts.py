"""The contracts the run and the kit enforce on a plugin author, each shown failing on the
mistake a plugin author made: an in-place edit, a gold-anywhere scorer, a ``hash()``-keyed
selector, a wrong-type default, a name clash, a misspelt hook, a broken plugin beside a healthy
one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import harness_cli, plugin_site
from harness import Capability, Params, Row, Selector, SplitSizes
from harness.errors import PluginError
from harness.registry import Registry
from harness.testing import capability_checks

SELECTOR = """
from harness import Selector, hookimpl

class {cls}(Selector):
    'A selector a plugin author wrote.'

    name = "{name}"
    version = 1

    def select(self, pool, ctx):
{body}

@hookimpl
def {hook}(register):
    register({cls})
"""


def _selector(root: Path, package: str, name: str, body: str,
              hook: str = "register_selectors", dist: str = "bad-plugin") -> Path:
    return plugin_site(root, package, SELECTOR.format(cls=name.title().replace("_", ""),
                                                      name=name, body=body, hook=hook),
                       dist=dist)


def _env(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(site)}


def _result(stdout: str, check: str) -> str:
    """The result cell of one check in `harness check`'s table."""
    (line,) = [x for x in stdout.splitlines() if check in x]
    return line.split(check, 1)[1].strip()


# ------------------------------------------------------------------ selectors

EDITING = """        for item in pool:
            item.label = " 0"
        return list(pool)"""


@pytest.mark.slow
def test_an_in_place_edit_never_reaches_training_and_the_kit_fails_it(tmp_path):
    site = _selector(tmp_path, "editing_plugin", "editing", EDITING)
    proc = harness_cli("check", "editing", env=_env(site))
    assert proc.returncode == 1
    assert "edited 200 of its pool's items, in place" in _result(proc.stdout, "never edits")

    suite = tmp_path / "suite.yaml"
    suite.write_text("""
name: editing
weak: tiny-weak
strong: tiny-strong
backend: hf
seeds: [0]
mixtures: [joint]
capabilities: [{name: synth_scan, params: {labeled: 30, unlabeled: 30, test: 10}}]
methods: [{name: edits, selector: {name: editing}}]
train: {name: sft, params: {max_steps: 1, batch_size: 10, micro_batch_size: 10}}
decode: {max_new_tokens: 24}
target_check: warn
""")
    home = tmp_path / "home"
    proc = harness_cli("run", "--suite", str(suite), env={**_env(site), "HARNESS_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "edited 30 pool items" in proc.stderr
    (selected,) = [p.with_name("selected.jsonl")
                   for p in (home / "cache" / "select").glob("*/_complete.json")
                   if json.loads(p.read_text())["spec"]["stage"]["params"]["selector"]["name"]
                   == "editing"]
    labels = {r["id"]: r["label"] for r in map(json.loads, selected.read_text().splitlines())}
    weak = {}
    for path in (home / "cache" / "decode").glob("*/completions.jsonl"):
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        if {r["id"] for r in rows} == set(labels):
            weak = {r["id"]: r["completion"] for r in rows}
    assert weak and labels == weak, "the student trains on the weak labels as decoded"


HASHY = "        return [i for i in pool if hash(i.id) % 2]"


@pytest.mark.slow
def test_the_kit_catches_a_selector_keyed_on_hash(tmp_path):
    site = _selector(tmp_path, "hashy_plugin", "hashy", HASHY)
    proc = harness_cli("check", "hashy", env=_env(site))
    assert proc.returncode == 1
    cell = _result(proc.stdout, "deterministic for a seed")
    assert "PYTHONHASHSEED" in cell and "ids differ" in cell, cell


# ------------------------------------------------------------------ capabilities


class Counting(Capability):
    """Say the count of a row's words (a capability for the kit's tests)."""

    name = "counting"
    version = 1
    generated = True
    chance = 0.0

    def pools(self, source, seed):
        rows = [Row(id=f"c{i}", prompt=f"Count: {'w ' * (i % 9 + 1)}=>", target=f" {i % 9 + 1}",
                    answer=str(i % 9 + 1)) for i in range(60)]
        return {"train": rows}

    def answer_of(self, row, completion):
        """The first number said."""
        words = [w for w in completion.split() if w.isdigit()]
        return words[0] if words else None


class GoldAnywhere(Counting):
    """Credits a completion whenever the gold number appears anywhere in it."""

    name = "gold_anywhere"

    def score(self, row, completion):
        return float(row.answer in completion.split())


class PeeksAtGold(Counting):
    """Reads the gold answer when it is among the completion's numbers."""

    name = "peeks"

    def answer_of(self, row, completion):
        words = [w for w in completion.split() if w.isdigit()]
        return row.answer if row.answer in words else (words[0] if words else None)


def _kit(cap: Capability, check: str) -> str | None:
    checks = dict(capability_checks(cap, None))
    checks["seeded determinism"]()  # loads the splits the other checks read
    return checks[check]()


def test_the_kit_fails_a_capability_that_credits_gold_anywhere():
    assert _kit(Counting(), "score is answer_of against gold_of") is None
    assert _kit(Counting(), "answer_of never reads gold") is None
    assert Counting().score(Row(id="x", prompt="", target=" 3", answer="3"), " 0 1 2 3") == 0.0
    problem = _kit(GoldAnywhere(), "score is answer_of against gold_of")
    assert problem and "score must be answer_of == gold_of" in problem, problem
    problem = _kit(PeeksAtGold(), "answer_of never reads gold")
    assert problem and "reads them" in problem, problem


# ------------------------------------------------------------------ registration


class WrongDefault(Selector):
    """Keeps a fraction given as a word."""

    name = "wrong_default"
    version = 1

    class Params(Params):
        fraction: float = "half"  # type: ignore[assignment]


class NoSizes(Capability):
    """Its Params forget the split sizes."""

    name = "no_sizes"
    version = 1

    class Params(Params):
        a: int = 1


class WithSizes(Counting):
    """Its Params add to the split sizes."""

    name = "with_sizes"

    class Params(SplitSizes):
        a: int = 1


def test_params_are_validated_when_a_plugin_registers():
    reg = Registry()
    with pytest.raises(PluginError) as err:
        reg.add("selectors", WrongDefault, "author", "their-dist", "1.0")
    assert "'author' (their-dist 1.0)" in str(err.value) and "fraction='half'" in str(err.value)
    with pytest.raises(PluginError, match="must subclass harness.SplitSizes"):
        reg.add("capabilities", NoSizes, "author", "their-dist", "1.0")
    reg.add("capabilities", WithSizes, "author", "their-dist", "1.0")


@pytest.mark.slow
def test_a_wrong_default_stops_a_run_before_any_compute(tmp_path):
    site = plugin_site(tmp_path, "typo_plugin", """
from harness import Params, Selector, hookimpl

class Half(Selector):
    'Keeps half.'
    name = "half"
    version = 1
    class Params(Params):
        fraction: float = "half"
    def select(self, pool, ctx):
        return pool

@hookimpl
def register_selectors(register):
    register(Half)
""", dist="typo-dist")
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run", env=_env(site))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and "typo-dist" in line and "fraction" in line, line


# ------------------------------------------------------------------ load failures


@pytest.mark.slow
def test_a_name_clash_marks_the_third_party_plugin_never_a_builtin(tmp_path):
    site = _selector(tmp_path, "clash_plugin", "all", "        return list(pool)",
                     dist="clash-dist")
    listed = harness_cli("list", "selectors", env=_env(site))
    assert listed.returncode == 0
    for builtin in ("random", "confidence", "consistency", "all"):
        assert f" {builtin} " in listed.stdout, listed.stdout
    plugins = harness_cli("plugins", env=_env(site)).stdout
    (broken,) = [x for x in plugins.splitlines() if "BROKEN" in x]
    assert broken.startswith("clash: selector all ") and "HARNESS_BLOCK_PLUGINS=clash" in broken, broken
    assert "harness_plugins.selectors.basic" in plugins
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run", env=_env(site))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "clash-dist" in line and "HARNESS_BLOCK_PLUGINS=clash" in line, line


@pytest.mark.slow
def test_a_misspelt_hook_is_one_line_and_list_still_works(tmp_path):
    site = _selector(tmp_path, "typo_plugin", "typo", "        return list(pool)",
                     hook="register_selector", dist="typo-dist")
    proc = harness_cli("run", "--suite", "quickstart", "--dry-run", env=_env(site))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "register_selector," in line and "typo-dist" in line, line
    assert "HARNESS_BLOCK_PLUGINS=typo" in line, line
    for command in ("list", "plugins"):
        ok = harness_cli(command, env=_env(site))
        assert ok.returncode == 0 and "synth_scan" in harness_cli("list", env=_env(site)).stdout
        assert "register_selector" in ok.stderr
    blocked = harness_cli("run", "--suite", "quickstart", "--dry-run",
                          env={**_env(site), "HARNESS_BLOCK_PLUGINS": "typo"})
    assert blocked.returncode == 0, blocked.stderr[-1000:]


@pytest.mark.slow
def test_check_checks_the_healthy_plugins_beside_a_broken_one(tmp_path):
    _selector(tmp_path, "healthy_plugin", "healthy", "        return list(pool)",
              dist="healthy-dist")
    site = plugin_site(tmp_path, "broken_plugin", "raise RuntimeError('boom')\n",
                       dist="broken-dist")
    proc = harness_cli("check", env=_env(site))
    assert proc.returncode == 1
    rows = [x for x in proc.stdout.splitlines() if x.startswith(("healthy ", "broken "))]
    assert sum(x.startswith("healthy ") and x.endswith(" ok") for x in rows) == 4, proc.stdout
    (broken,) = [x for x in rows if x.startswith("broken ")]
    assert "FAIL" in broken and "boom" in broken, broken
    named = harness_cli("check", "healthy", env=_env(site))
    assert named.returncode == 0, named.stdout


def test_check_source_needs_name_and_dir():
    proc = harness_cli("check", "synth_scan", "--source", "synth_scan")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --source 'synth_scan': give NAME=DIR"), line


def test_a_plugin_installed_during_a_run_does_not_reach_its_workers(tmp_path):
    """A run's workers load the plugins in the run's snapshot (``HARNESS_PLUGINS_LOADED``),
    so one installed after the run started, broken here, is not imported by its stages."""
    site = plugin_site(tmp_path, "late_plugin", "raise RuntimeError('half-installed')\n",
                       dist="late-dist")
    code = ("from harness.plugins import registry; "
            "print(sorted(registry().entries['selectors']))")
    late = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **_env(site)})
    assert late.returncode == 1 and "half-installed" in late.stderr
    worker = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **_env(site), "HARNESS_PLUGINS_LOADED": "[]"})
    assert worker.returncode == 0 and "'all'" in worker.stdout, worker.stderr
