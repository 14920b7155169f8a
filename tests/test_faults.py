"""A plugin's fault at a stage is one `error:` line naming the plugin and the stage; finished
stages stay cached, and nothing the fault touched is served on the next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import harness_cli, plugin_site

pytestmark = pytest.mark.slow

HEAD = """
from harness import Selector, hookimpl

class Faulty(Selector):
    'A selector with one fault.'

    name = "faulty"
    version = 1
    def select(self, pool, ctx):
{body}

@hookimpl
def register_selectors(register):
    register(Faulty)
"""

FAULTS = {
    "a selector that returns ids not in the pool": (
        "        return [pool[0].model_copy(update={'id': 'made-up'})]",
        "returned 1 ids not in the pool"),
    "a selector that returns an item twice": (
        "        return [pool[0], pool[0]]", "returned 1 items more than once"),
    "a selector that returns None": ("        return None", "returned NoneType, not a list"),
    "a selector that keeps nothing": ("        return []", "kept none of the"),
    "a selector that reads gold through its work directory": (
        "        list(ctx.work_dir.parents[1].glob('data/*/unlabeled.jsonl'))[0].read_text()\n"
        "        return list(pool)", "raised GoldLeak: read gold data"),
    "a selector that raises": (
        "        raise KeyError('boom')", "selector faulty (from bad-plugin 1.0) raised KeyError"),
}

SUITE = """
name: faults
weak: tiny-weak
strong: tiny-strong
seeds: [0]
capabilities: [{name: synth_scan, params: {labeled: 40, unlabeled: 40, test: 20}}]
methods: [{name: bad, selector: {name: faulty}}]
train: {name: sft, params: {max_steps: 2, batch_size: 20, micro_batch_size: 20}}
"""


def _site(tmp_path: Path, body: str) -> Path:
    return plugin_site(tmp_path, "bad_plugin", HEAD.format(body=body))


def test_a_faulty_plugin_is_one_line_naming_it_and_loses_nothing(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    home = tmp_path / "home"
    for case, (body, says) in FAULTS.items():
        env = {"PYTHONPATH": str(_site(tmp_path, body)), "HARNESS_HOME": str(home)}
        proc = harness_cli("run", "--suite", str(suite), "--backend", "hf", env=env)
        assert proc.returncode == 2, (case, proc.stderr[-2000:])
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and "faulty" in line and "select bad" in line, line
        assert says in line, (case, line)
        # Finished stages are kept: the weak and ceiling models were trained once, for all.
        manifest = json.loads(sorted((home / "runs").glob("*/manifest.json"))[-1].read_text())
        ran = {s["label"].split(" [")[0]: s["cached"] for s in manifest["stages"]}
        assert ran["train weak"] is (case != next(iter(FAULTS))), (case, ran)
        cached = [json.loads(p.read_text())["spec"]["stage"]["params"]["selector"]["name"]
                  for p in (home / "cache" / "select").glob("*/_complete.json")]
        assert "faulty" not in cached, "no faulty selection was cached"
    # Fixed, the next run computes the selection afresh and finishes.
    fixed = "        return list(pool)"
    env = {"PYTHONPATH": str(_site(tmp_path, fixed)), "HARNESS_HOME": str(home)}
    proc = harness_cli("run", "--suite", str(suite), "--backend", "hf", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


KIND_MODULES = {
    "capability": '''
from harness.extract import step
from harness_plugins.capabilities.quick import SynthScan


@step("word_999")
def word_999(text, row):
    return text.split()[999]  # assumes a longer completion than any it gets


class Cap(SynthScan):
    """synth_scan with one fault."""

    name = "faulty_scan"
{body}
''',
    "backend": '''
from harness_plugins.backends.hf import HFBackend


class Backend(HFBackend):
    """hf with one fault."""

    name = "faulty_hf"
{body}
''',
    "trainer": '''
from harness_plugins.trainers.sft import SFT


class Train(SFT):
    """sft with one fault."""

    name = "faulty_sft"
{body}
''',
}
KINDS_INIT = '''
from harness import hookimpl

from broken_kinds import backend, capability, trainer


@hookimpl
def register_capabilities(register):
    register(capability.Cap)


@hookimpl
def register_backends(register):
    register(backend.Backend)


@hookimpl
def register_trainers(register):
    register(trainer.Train)
'''

KINDS_SUITE = """
name: kinds
weak: tiny-weak
strong: tiny-strong
seeds: [0]
target_check: warn
capabilities: [{name: faulty_scan, params: {labeled: 40, unlabeled: 40, test: 20}}]
methods: [{name: naive}, {name: conf, selector: {name: confidence, params: {ratio: 0.5}}}]
train: {name: faulty_sft, params: {max_steps: 2, batch_size: 20, micro_batch_size: 20}}
"""

RAISE = "        raise OSError('disk gone')"
KIND_FAULTS = {
    # row: (the faulty method, the stage named, what the line says)
    "a capability that raises loading its data": (
        ("capability", f"    def load(self, seed, source=None):\n{RAISE}"),
        "data faulty_scan seed 0", "capability faulty_scan (from broken-kinds 1.0) raised OSError"),
    "a capability that raises checking its source": (
        ("capability", f"    def check_source(self, source):\n{RAISE}"),
        "planning suite kinds", "raised OSError: disk gone in check_source()"),
    "an extractor that raises on a completion": (
        ("capability", "    extract = ['word_999']"),
        "grade eval strong base 0-shot",
        "raised IndexError: list index out of range in scoring a completion"),
    "a capability whose metrics raise": (
        ("capability", f"    def metrics(self, rows, scores):\n{RAISE}"),
        "grade eval strong base 0-shot", "raised OSError: disk gone in metrics()"),
    "a trainer that raises training": (
        ("trainer", f"    def train(self, base, examples, out, ctx):\n{RAISE}"),
        "train weak", "trainer faulty_sft (from broken-kinds 1.0) raised OSError"),
    "a trainer whose steps raise": (
        ("trainer", f"    def steps(self):\n{RAISE}"),
        "planning suite kinds", "raised OSError: disk gone in steps()"),
    "a backend that raises generating": (
        ("backend", f"    def generate(self, model, prompts, decode):\n{RAISE}"),
        "eval strong base 0-shot", "backend faulty_hf (from broken-kinds 1.0) raised OSError"),
    "a backend that raises scoring log-probabilities": (
        ("backend", f"    def logprobs(self, model, prompts, completions, batch_size=16):\n{RAISE}"),
        "score weak labels", "raised OSError: disk gone in logprobs()"),
}


def _kinds_site(tmp_path: Path, kind: str = "", body: str = "") -> Path:
    """One distribution with a capability, a backend and a trainer, each in its own module
    (so each has its own code digest); ``kind``'s has the fault ``body``."""
    site = plugin_site(tmp_path, "broken_kinds", KINDS_INIT, dist="broken-kinds")
    for name, source in KIND_MODULES.items():
        text = source.format(body=body if name == kind else "    pass")
        (site / "broken_kinds" / f"{name}.py").write_text(text)
    return site


def _entries(home: Path, stage: str) -> int:
    """How many complete cache entries a stage (its label without brackets) has."""
    return sum(json.loads(p.read_text())["spec"]["stage"]["label"].startswith(stage + " [")
               for p in (home / "cache").glob("*/*/_complete.json"))


def _last_run(home: Path) -> dict[str, dict]:
    manifest = json.loads(sorted((home / "runs").glob("*/manifest.json"))[-1].read_text())
    return {s["label"].split(" [")[0]: s for s in manifest["stages"]}


def test_a_fault_in_any_plugin_method_is_one_line_and_keeps_finished_stages(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(KINDS_SUITE)
    home = tmp_path / "home"
    args = ("run", "--suite", str(suite), "--backend", "faulty_hf")
    for case, ((kind, body), stage, says) in KIND_FAULTS.items():
        env = {"PYTHONPATH": str(_kinds_site(tmp_path, kind, body)), "HARNESS_HOME": str(home)}
        runs_before = len(list((home / "runs").glob("*/manifest.json")))
        entries_before = _entries(home, stage)
        proc = harness_cli(*args, env=env)
        assert proc.returncode == 2, (case, proc.stderr[-2000:])
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and says in line and stage in line, (case, line)
        if stage.startswith("planning"):
            assert len(list((home / "runs").glob("*/manifest.json"))) == runs_before
            continue
        assert _entries(home, stage) == entries_before, (case, "the failed stage left an entry")
        if case == "a capability whose metrics raise":  # the run after the crashing extractor
            assert _last_run(home)["eval strong base 0-shot"]["cached"], \
                "the ungraded decode was kept"
    # Fixed: the run finishes, serving what the faulty runs finished and computing the stage
    # the last fault stopped.
    env = {"PYTHONPATH": str(_kinds_site(tmp_path)), "HARNESS_HOME": str(home)}
    proc = harness_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ran = _last_run(home)
    # (the faults now stop at the untuned baselines' decode and grade, the first of each: those
    # are what the earlier runs finished with this code)
    assert ran["eval strong base 0-shot"]["cached"] and ran["train weak"]["cached"]
    assert not ran["score weak labels"]["cached"]
