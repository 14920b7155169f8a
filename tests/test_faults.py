"""A plugin's fault at a stage is one `error:` line naming the plugin and the stage; finished
stages stay cached, and nothing the fault touched is served on the next run.

Each case is its own test (its own harness home) on the ``fake`` backend and trainer, run by
the real console script with its stages in process: seconds a case, no torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import harness_cli, plugin_site, record_of
from harness.history import find_run
from harness.store import Store

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
weak: fake-weak
strong: fake-strong
backend: fake
seeds: [0]
capabilities: [{name: synth_scan, params: {labeled: 40, unlabeled: 40, test: 20}}]
methods: [{name: bad, selector: {name: faulty}}]
train: {name: fake}
"""


def _run(suite: Path, home: Path, site: Path, *extra: str):
    return harness_cli("run", "--suite", str(suite), "--in-process", *extra,
                       env={"PYTHONPATH": str(site), "HARNESS_HOME": str(home)})


def _manifest(home: Path) -> dict:
    """The last run's manifest: the one ``harness show latest`` reads (runs in one second
    do not sort by id)."""
    return record_of(find_run(Store(home), "latest"))["manifest"]


def _site(tmp_path: Path, body: str) -> Path:
    return plugin_site(tmp_path, "bad_plugin", HEAD.format(body=body))


@pytest.mark.parametrize("body,says", FAULTS.values(), ids=FAULTS.keys())
def test_a_faulty_selector_is_one_line_naming_it_and_loses_nothing(body, says, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    home = tmp_path / "home"
    proc = _run(suite, home, _site(tmp_path / "bad", body))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "faulty" in line and "select bad" in line, line
    assert says in line, line
    cached = [json.loads(p.read_text())["spec"]["stage"]["params"]["selector"]["name"]
              for p in (home / "cache" / "select").glob("*/_complete.json")]
    assert "faulty" not in cached, "no faulty selection was cached"
    finished = {s["key"] for s in _manifest(home)["stages"] if s["error"] is None}
    # Fixed, the next run serves what the faulty one finished and computes the selection.
    proc = _run(suite, home, _site(tmp_path / "fixed", "        return list(pool)"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    ran = {s["label"].split(" [")[0]: s for s in _manifest(home)["stages"]}
    assert ran["train weak"]["key"] in finished and ran["train weak"]["cached"]
    assert not ran["select bad"]["cached"]


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
from w2s_fakes import FakeBackend


class Backend(FakeBackend):
    """fake with one fault."""

    name = "faulty_fake"
{body}
''',
    "trainer": '''
from w2s_fakes import FakeTrainer


class Train(FakeTrainer):
    """fake with one fault."""

    name = "faulty_train"
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
weak: fake-weak
strong: fake-strong
backend: faulty_fake
seeds: [0]
target_check: warn
capabilities: [{name: faulty_scan, params: {labeled: 40, unlabeled: 40, test: 20}}]
methods: [{name: naive}, {name: conf, selector: {name: confidence, params: {ratio: 0.5}}}]
train: {name: faulty_train}
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
        "train weak", "trainer faulty_train (from broken-kinds 1.0) raised OSError"),
    "a trainer whose steps raise": (
        ("trainer", f"    def steps(self):\n{RAISE}"),
        "planning suite kinds", "raised OSError: disk gone in steps()"),
    "a backend that raises generating": (
        ("backend", f"    def generate(self, model, prompts, decode):\n{RAISE}"),
        "eval strong base 0-shot", "backend faulty_fake (from broken-kinds 1.0) raised OSError"),
    "a backend that raises scoring log-probabilities": (
        ("backend", f"    def logprobs(self, model, prompts, completions, batch_size=32):\n{RAISE}"),
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
    return sum(_is(json.loads(p.read_text())["spec"]["stage"]["label"], stage)
               for p in (home / "cache").glob("*/*/_complete.json"))


def _is(label: str, stage: str) -> bool:
    """``label`` is ``stage``'s (a label without its brackets)."""
    return label == stage or label.startswith(stage + " [")


@pytest.mark.parametrize("fault,stage,says", KIND_FAULTS.values(), ids=KIND_FAULTS.keys())
def test_a_fault_in_any_plugin_method_is_one_line_and_keeps_finished_stages(fault, stage, says,
                                                                            tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(KINDS_SUITE)
    home = tmp_path / "home"
    proc = _run(suite, home, _kinds_site(tmp_path / "bad", *fault))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and says in line and stage in line, line
    if stage.startswith("planning"):  # refused before the run began: nothing of it is left
        assert not list((home / "runs").glob("*/record.json"))
        return
    assert _entries(home, stage) == 0, "the failed stage left an entry"
    finished = {s["key"] for s in _manifest(home)["stages"] if s["error"] is None}
    # Fixed: the run finishes, serving every stage the faulty run finished that the fix did
    # not change, and computing the one the fault stopped.
    proc = _run(suite, home, _kinds_site(tmp_path / "fixed"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = _manifest(home)["stages"]
    kept = [s for s in again if s["key"] in finished]
    assert all(s["cached"] for s in kept)
    assert kept or stage.startswith("data"), "a fix to one plugin recomputed everything"
    assert any(_is(s["label"], stage) and not s["cached"] for s in again)
