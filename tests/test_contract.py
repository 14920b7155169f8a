"""The plugin contract kit, as a plugin author uses it: `harness check` and the pytest plugin
pass the example plugin and catch a selector that reads gold through its work directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, harness_cli, plugin_site
from test_faults import HEAD

LEAKY = HEAD.format(body="""\
        import json
        gold = {}
        for path in ctx.work_dir.parents[1].glob("data/*/unlabeled.jsonl"):
            for line in path.read_text().splitlines():
                row = json.loads(line)
                gold[row["id"]] = row["target"]
        return [i for i in pool if gold.get(i.id) == i.label] or pool[:1]""")
"""The faulty selector of ``test_faults``, here keeping the weak labels that match the gold it
reads from the cache."""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    """The example plugin installed as pip would, beside a package with the leaky selector."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target),
                    str(ROOT / "tests" / "example_plugin")], check=True, capture_output=True)
    leaky = plugin_site(target, "leaky_plugin", LEAKY, dist="leaky-plugin", version="0.1")
    return target, leaky


def _env(site: tuple[Path, Path]) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([*map(str, site), os.environ.get("PYTHONPATH", "")])}


def test_harness_check_passes_the_example_and_catches_the_leak(site):
    good = harness_cli("check", "example_echo", "example_first", env=_env(site))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "14 of 14 checks passed" in good.stdout
    leak = harness_cli("check", "faulty", env=_env(site))
    assert leak.returncode == 1
    line = next(x for x in leak.stdout.splitlines() if "never reads gold" in x)
    assert "FAIL" in line and "read gold data" in line
    # With no names, every third-party capability and selector is checked.
    every = harness_cli("check", env=_env(site))
    assert every.returncode == 1 and "example_echo" in every.stdout and "faulty" in every.stdout


def test_the_pytest_plugin_passes_the_example_and_catches_the_leak(site, tmp_path):
    def pytest_(names: str):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"--harness-check={names}", str(tmp_path)],
                              capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, **_env(site)}, timeout=600)

    good = pytest_("example_echo,example_first")
    assert good.returncode == 0 and "14 passed" in good.stdout, good.stdout[-2000:]
    leak = pytest_("faulty")
    assert leak.returncode == 1 and "4 failed" in leak.stdout, leak.stdout[-2000:]
    assert "read gold data" in leak.stdout


BROKEN_KINDS = '''
from harness import Trainer, hookimpl
from harness_plugins.backends.hf import HFBackend


class Shouty(HFBackend):
    "Decodes as hf does, then says it twice."

    name = "shouty"

    def generate(self, model, prompts, decode):
        return [g.model_copy(update={"text": g.text + g.text + "!"})
                for g in super().generate(model, prompts, decode)]


class Stepless(Trainer):
    "Declares no training runs."

    name = "stepless"
    version = 1

    def steps(self):
        return []


@hookimpl
def register_backends(register):
    register(Shouty)


@hookimpl
def register_trainers(register):
    register(Stepless)
'''


@pytest.mark.slow
def test_the_kit_checks_trainers_and_backends(tmp_path):
    env = {"PYTHONPATH": str(plugin_site(tmp_path, "kinds_plugin", BROKEN_KINDS))}
    good = harness_cli("check", "sft", "hf", env=env)
    assert good.returncode == 0 and "4 of 4 checks passed" in good.stdout, good.stdout
    bad = harness_cli("check", "shouty", "stepless", env=env)
    assert bad.returncode == 1
    lines = {line.split()[0]: line for line in bad.stdout.splitlines()
             if "FAIL" in line}
    assert "differ from hf's" in lines["shouty"] and "at least one" in lines["stepless"]


SUPERVISORS = '''
import random

from harness import Supervisor, hookimpl


class Oracle(Supervisor):
    "Right on every item but the first class, which it calls the second: a fixed rule."

    name = "oracle"

    def label(self, capability, rows, splits, seed):
        first = sorted({capability.gold_of(r) for r in splits["labeled"]})
        swap = next(r.target for r in splits["labeled"] if capability.gold_of(r) == first[1])
        return [swap if capability.gold_of(r) == first[0] else r.target for r in rows]


class Coin(Supervisor):
    "Right or wrong by an unseeded coin."

    name = "coin"

    def label(self, capability, rows, splits, seed):
        return [r.target if random.random() < 0.5 else rows[0].target for r in rows]


class Scribbler(Supervisor):
    "Writes its label into the rows it is given, and drops the last one."

    name = "scribbler"

    def label(self, capability, rows, splits, seed):
        for r in rows:
            r.target = " oslo"
        return [r.target for r in rows[:-1]]


@hookimpl
def register_supervisors(register):
    register(Oracle)
    register(Coin)
    register(Scribbler)
'''


def test_the_kit_checks_a_third_party_supervisor(tmp_path):
    """Issue 32: supervisors are a plugin kind the kit covers: one label a row, rows left as
    given, deterministic for a seed across processes."""
    env = {"PYTHONPATH": str(plugin_site(tmp_path, "supervisors_plugin", SUPERVISORS))}
    good = harness_cli("check", "oracle", env=env)
    assert good.returncode == 0 and "4 of 4 checks passed" in good.stdout, good.stdout
    bad = harness_cli("check", "coin", "scribbler", env=env)
    assert bad.returncode == 1, bad.stdout
    fails = [line for line in bad.stdout.splitlines() if "FAIL" in line]
    assert any(line.startswith("coin") and "differ" in line for line in fails), fails
    assert any(line.startswith("scribbler") and "one string per row" in line for line in fails)
    assert any(line.startswith("scribbler") and "edited" in line for line in fails), fails


CUT = '''
from harness import DecodeConfig, hookimpl
from harness_plugins.capabilities.quick import SynthScan


class Cut(SynthScan):
    "synth_scan with a decode budget its targets do not fit."

    name = "cut_scan"
    decode = DecodeConfig(max_new_tokens=2, stop=["\\\\n"])


@hookimpl
def register_capabilities(register):
    register(Cut)
'''


@pytest.mark.slow
def test_the_kit_catches_targets_the_decode_budget_would_cut(tmp_path):
    env = {"PYTHONPATH": str(plugin_site(tmp_path, "cut_plugin", CUT))}
    good = harness_cli("check", "synth_scan", env=env)
    assert good.returncode == 0, good.stdout
    bad = harness_cli("check", "cut_scan", env=env)
    line = next(x for x in bad.stdout.splitlines() if "decode budget" in x)
    assert bad.returncode == 1 and "FAIL" in line and "longer than max_new_tokens 2" in line, line
