"""Cache keys follow the code a stage actually runs: every core module that can change an
output (imports inside functions included) and every module a plugin's distribution reaches.

Each case edits one module in a temporary copy of the harness and its built-in plugins, plans
the quickstart (with a third-party selector whose helper is imported inside ``select``) from
that copy, and compares every stage's code digest with the unedited copy's: a changed digest
is a changed key, a recomputed stage. Before issue 30 the digest followed module globals and a
hand-kept list of three core modules, and ``test_an_edit_recomputes_exactly_the_stages_whose_code_it_is``
failed on the extraction, scoring, sources, runners, store and function-level-helper cases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKES, ROOT, plugin_site

QUICKSTART = ROOT / "leaderboard" / "suites" / "quickstart.yaml"

SELECTOR = '''
"""A selector that imports its helper inside select(), as a plugin guide reader might."""
from harness import Selector, hookimpl


class Helped(Selector):
    """Keep what the helper module keeps."""

    name = "helped"
    version = 1

    def select(self, pool, ctx):
        from w2s_helped import helper
        return helper.keep(pool)


@hookimpl
def register_selectors(register):
    register(Helped)
'''

PLAN = '''
import json, sys
import harness
assert harness.__file__.startswith(sys.argv[1]), harness.__file__
from harness.planner import plan
from harness.plugins import registry
from harness.runs import find_suite
from harness.schemas import Suite
suite = Suite.from_file(find_suite(sys.argv[2]))
methods = [*suite.model_dump()["methods"], {"name": "helped", "selector": {"name": "helped"}}]
suite = Suite.model_validate({**suite.model_dump(exclude_unset=True), "methods": methods})
_, graph = plan(suite, registry(), "hf")
print(json.dumps({s.label: [s.kind, s.code] for s in graph.stages.values()}))
'''


def _codes(src: Path, site: Path) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [src, site, FAKES]))}
    proc = subprocess.run([sys.executable, "-c", PLAN, str(src), str(QUICKSTART)],
                          env=env, cwd=src,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of the harness and its plugins, and a third-party selector with a helper."""
    root = tmp_path_factory.mktemp("copy")
    src = root / "src"
    shutil.copytree(ROOT / "harness", src / "harness")
    shutil.copytree(ROOT / "plugins", src / "harness_plugins")
    site = plugin_site(root, "w2s_helped", SELECTOR, dist="w2s-helped")
    (site / "w2s_helped" / "helper.py").write_text(
        "def keep(pool):\n    return pool[: len(pool) // 2]\n")
    return src, site, _codes(src, site)


# (the file edited, relative to the copy; the stage kinds, or labels, whose code it is)
CASES = {
    "harness/extract.py": "all",       # the extraction steps
    "harness/scoring.py": "all",       # the readers behind them
    "harness/bases.py": "all",         # splitting, Capability.answer_of
    "harness/sources.py": "all",       # data sources
    "harness/runners.py": "all",       # what every stage does with its plugins
    "harness/store.py": "all",         # how outputs are written
    "harness_plugins/trainers/finetune.py": {"train"},  # the trainers' shared code
    "harness_plugins/capabilities/facts.py": {"data", "grade", "select"},
    "site/w2s_helped/helper.py": "select helped",  # imported inside a function
    "harness/report.py": set(),        # named in NO_OUTPUTS: renders finished results
    "harness/progress.py": set(),
}


@pytest.mark.parametrize("path", CASES)
def test_an_edit_recomputes_exactly_the_stages_whose_code_it_is(tree, path):
    src, site, before = tree
    file = (site.parent if path.startswith("site/") else src) / path
    original = file.read_text()
    file.write_text(original + "\n# an edit\n")
    try:
        after = _codes(src, site)
    finally:
        file.write_text(original)
    assert after.keys() == before.keys()
    changed = {label for label in before if after[label][1] != before[label][1]}
    want = CASES[path]
    if want == "all":
        expected = set(before)
    elif isinstance(want, str):
        expected = {label for label in before if label.startswith(want)}
    else:
        expected = {label for label, (kind, _) in before.items() if kind in want}
    assert expected or not want, f"the suite has no stage for {want}"
    assert changed == expected, (sorted(changed - expected), sorted(expected - changed))


def test_every_core_module_is_in_the_keys_or_named_harmless():
    """A module added to the core is in every key until NO_OUTPUTS names it, with a reason."""
    from harness import code

    on_disk = {f"harness.{p.stem}" for p in (ROOT / "harness").glob("*.py")
               if p.stem != "__init__"} | {"harness"}
    assert set(code.core_modules()) == on_disk - set(code.NO_OUTPUTS)
    assert set(code.NO_OUTPUTS) <= on_disk, "NO_OUTPUTS names a module that is gone"
    assert all(reason.strip() for reason in code.NO_OUTPUTS.values())


def test_imports_are_read_from_the_source_wherever_they_stand():
    from harness.code import imports

    source = b"import a.b\nfrom .c import d\ndef f():\n    from ..e import g\n    import h\n"
    found = imports("pkg.sub.mod", source, package=False)
    assert {"a", "a.b", "pkg.sub.c", "pkg.sub.c.d", "pkg.e", "pkg.e.g", "h"} <= found
