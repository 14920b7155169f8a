"""A selector gets the weak model as the plugin guide promises (issue 30): a selector whose
``needs()`` includes ``weak_model`` is given the trained weak model's local folder and decodes
with it through ``ctx.backend``; one that did not ask is told how to, in one line.

Before issue 30, ``ctx.weak_model`` was the untuned weak model's *name* ("fake-weak",
"tiny-weak"), which transformers then looked up on the hub: the first test failed on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fake_suite, harness_cli, plugin_site, run_tiny

SELECTOR = '''
"""Keep the weak labels the weak model gives again; record what ctx.weak_model was."""
from harness import DecodeConfig, Selector, hookimpl


class Again(Selector):
    """Weak labels the trained weak model reproduces."""

    name = "again"
    version = 1

    def needs(self):
        return NEEDS

    def select(self, pool, ctx):
        (ctx.work_dir / "weak.txt").write_text(ctx.weak_model)
        again = ctx.backend.complete(ctx.weak_model, [i.prompt for i in pool], DecodeConfig())
        return [i for i, g in zip(pool, again) if g.text == i.label]


@hookimpl
def register_selectors(register):
    register(Again)
'''


def _site(tmp_path: Path, needs: str) -> dict[str, str]:
    site = plugin_site(tmp_path, "again_plugin", SELECTOR.replace("NEEDS", needs),
                       dist="again-plugin")
    return {"PYTHONPATH": str(site)}


def test_a_selector_that_needs_the_weak_model_decodes_with_the_trained_one(tmp_path):
    suite = fake_suite(tmp_path, methods="  - {name: again, selector: {name: again}}")
    home = tmp_path / "home"
    run_dir, manifest = run_tiny(suite, home, "--in-process",
                                 env=_site(tmp_path, "{\"weak_model\"}"))
    stages = {s["label"].split(" [")[0]: s for s in manifest["stages"]}
    weak = home / "cache" / "train" / stages["train weak"]["key"] / "model"
    select = home / "cache" / "select" / stages["select again"]["key"]
    assert (select / "weak.txt").read_text() == str(weak) and weak.is_dir()
    kept = [json.loads(x) for x in (select / "selected.jsonl").read_text().splitlines()]
    pool = [json.loads(x) for x in (home / "cache" / "select" / stages["select all"]["key"]
                                    / "selected.jsonl").read_text().splitlines()]
    assert len(kept) == len(pool)  # greedy: the weak model gives every label again


def test_a_selector_that_did_not_ask_for_the_weak_model_is_told_how(tmp_path):
    suite = fake_suite(tmp_path, methods="  - {name: again, selector: {name: again}}")
    proc = harness_cli("run", "--suite", str(suite), "--in-process",
                       env={**_site(tmp_path, "set()"), "HARNESS_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
    assert 'add "weak_model" to the selector\'s needs()' in line


def test_a_selector_needing_the_weak_model_is_refused_where_there_is_none(tmp_path):
    """Planning refuses it, with one line, when the method's supervisor has no trained model
    (a simulated one), before any compute."""
    suite = fake_suite(tmp_path, methods="  - {name: again, selector: {name: again}, "
                                         "supervisor: {name: simulated, params: {q: 0.6}}}")
    proc = harness_cli("run", "--suite", str(suite), "--dry-run",
                       env={**_site(tmp_path, "{\"weak_model\"}"),
                            "HARNESS_HOME": str(tmp_path / "home")})
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and line.startswith("error: method again: selector again "
                                                    "needs the trained weak model"), line
    assert "supervisor simulated has none" in line
