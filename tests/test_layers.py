"""The core's import layers, checked on its real import graph (grimp, the engine of
import-linter): every import, in a function or under ``TYPE_CHECKING`` too, goes down the list
below or stays within its layer, and there is no cycle. A new upward import fails here."""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp", reason="grimp is a dev dependency (pip install -e '.[dev]')")

LAYERS = [
    ("cli", {"cli"}),
    ("run", {"runpage", "runs", "plans", "history", "leaderboard", "quotes", "reference",
             "testing", "gc", "track"}),
    ("checks before compute", {"sizing", "preflight"}),
    ("execution", {"scheduler", "executors", "worker", "launch", "jobs", "_preload",
                   "_preload_models"}),
    ("planning and stage kinds", {"planner", "runners", "resolver", "tinymodels", "converted",
                                  "tokens", "code"}),
    ("results", {"collect", "findings", "report", "plots", "analysis", "power", "stats",
                 "controls"}),
    ("records and plugins", {"record", "schemas", "graph", "outputs", "footprint", "store",
                             "bases", "rows", "extract", "scoring", "sources", "hookspecs",
                             "registry", "plugins", "faults", "guard", "trust", "errors",
                             "progress", "devices"}),
]
"""Top to bottom; docs/architecture.md describes each module."""


def graph():
    return grimp.build_graph("harness", cache_dir=None)


def upward(g, layers=LAYERS) -> list[str]:
    """Imports that go up the layers, as ``importer -> imported``."""
    layered = [grimp.Layer(*(f"harness.{m}" for m in mods), independent=False)
               for _, mods in layers]
    found = g.find_illegal_dependencies_for_layers(layers=layered)
    return sorted(f"{d.importer} -> {d.imported}" for d in found)


def cycles(g) -> list[str]:
    mods = [m for m in g.modules if m.startswith("harness.")]
    return sorted(f"{a} <-> {b}" for a in mods for b in g.find_modules_directly_imported_by(a)
                  if b.startswith("harness.") and b != a
                  and g.chain_exists(importer=b, imported=a))


def test_every_core_module_has_a_layer():
    named = {f"harness.{m}" for _, mods in LAYERS for m in mods}
    assert {m for m in graph().modules if m.startswith("harness.")} == named


def test_imports_go_down_the_layers_and_never_round_a_cycle():
    g = graph()
    assert upward(g) == []
    assert cycles(g) == []


def test_the_check_finds_an_upward_import_and_a_cycle():
    g = graph()
    g.add_import(importer="harness.bases", imported="harness.planner")  # a contract reaching up
    assert "harness.bases -> harness.planner" in " ".join(upward(g))
    assert "harness.bases <-> harness.planner" in cycles(g)
