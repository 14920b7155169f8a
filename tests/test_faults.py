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
