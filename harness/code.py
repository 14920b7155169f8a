"""Digests of the code a stage runs, so code edited without a version bump is recomputed.

A stage's code digest covers two things, each by rule rather than by a hand-kept list of
what matters:

- **the core**: every module of the ``harness`` package on disk, except ``NO_OUTPUTS``, a
  short named list of modules that cannot change what a stage writes (each with the reason).
  A module added to the package is in every key until someone names it harmless. So an edit
  of the extraction steps, the scorers, the splitting or the runners (or an upgrade of the
  harness) recomputes the stages, and the keys chain outputs: a stage recomputed into
  byte-identical output leaves everything downstream served.
- **its plugins**: each plugin class's module and every module it imports, at module level
  or inside a function, read from the source (not from what happens to be imported yet),
  within the plugin's own distribution (the top-level packages it installs). Imports by
  string at run time (``importlib.import_module(name)``) are not seen; a plugin that makes
  them bumps its ``version``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import pkgutil
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

CORE = "harness"

NO_OUTPUTS: dict[str, str] = {
    "harness._preload": "builds the plugin registry early, for speed",
    "harness._preload_models": "imports heavy modules early, for speed",
    "harness.analysis": "metrics of finished predictions, computed after the stages",
    "harness.cli": "parses the command line; what it decides is in each stage's params",
    "harness.code": "computes these digests",
    "harness.collect": "reads finished stages' outputs into results",
    "harness.controls": "checks a suite's controls against its methods before compute",
    "harness.errors": "the wording of error lines",
    "harness.findings": "verdicts over finished results",
    "harness.footprint": "memory estimates for sizing",
    "harness.gc": "drops weights no stage still needs",
    "harness.hookspecs": "the hook names plugins implement",
    "harness.leaderboard": "renders finished results",
    "harness.planner": "turns a suite into stages; what it decides is in each stage's params",
    "harness.plugins": "finds plugins; their code is in the key on its own",
    "harness.power": "plans seeds and items from a finished run",
    "harness.preflight": "refuses a suite before compute, or lets it through unchanged",
    "harness.quotes": "regenerates the docs' quotes of the board",
    "harness.progress": "console lines",
    "harness.reference": "renders the docs' reference pages",
    "harness.registry": "names plugins; their code is in the key on its own",
    "harness.report": "renders finished results",
    "harness.runs": "lists, resumes and shows runs",
    "harness.scheduler": "decides what runs and when, not what a stage computes",
    "harness.schemas": "the suite and result models; a suite's values are in the params",
    "harness.sizing": "estimates for `harness plan`",
    "harness.stats": "intervals over finished results",
    "harness.testing": "the contract kit",
}
"""Core modules outside every key, each with why it cannot change a stage's output."""


def _spec_source(name: str) -> tuple[bytes, bool] | None:
    """A module's source and whether it is a package; None when it has no source file (not
    installed, compiled, built in)."""
    module = sys.modules.get(name)
    try:
        spec = getattr(module, "__spec__", None) or importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        return None
    try:
        return Path(origin).read_bytes(), spec.submodule_search_locations is not None
    except OSError:
        return None


def imports(name: str, source: bytes, package: bool) -> set[str]:
    """Every module ``source`` may import, wherever the statement stands (inside functions
    too): each name, its parent packages, and for ``from m import x`` also ``m.x`` (it may be
    a submodule; callers keep the names that exist)."""
    here = name if package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names)
    parents = {".".join(n.split(".")[:i]) for n in out for i in range(1, n.count(".") + 1)}
    return {n for n in out | parents if n}


@lru_cache(maxsize=1)
def _owners(path: tuple[str, ...]) -> dict[str, list[str]]:
    """Top-level package -> the distributions installing it, on the module search ``path``:
    read once for a path, as the scan reads every installed distribution's file list (about a
    second beside torch and vLLM, which a run's plugins would otherwise pay each)."""
    return metadata.packages_distributions()


@lru_cache(maxsize=None)
def _distribution_tops(top: str) -> frozenset[str]:
    """The top-level packages installed by the distribution that installs ``top`` (``top``
    alone for a module on the path without one)."""
    owners = _owners(tuple(sys.path))
    dists = set(owners.get(top, []))
    tops = {t for t, ds in owners.items() if dists & set(ds)} | {top}
    return frozenset(tops)


@lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[str, ...]:
    """``name`` and every module of its distribution it can import, sorted; the core is
    left to ``core_modules`` (in every key, by its own rule)."""
    scope = _distribution_tops(name.split(".")[0]) - {CORE}
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current.split(".")[0] not in scope:
            continue
        found = _spec_source(current)
        if found is None:
            continue
        seen.add(current)
        todo.extend(imports(current, *found))
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def core_modules() -> tuple[str, ...]:
    """Every module of the core package on disk, less ``NO_OUTPUTS``, sorted."""
    package = importlib.import_module(CORE)
    names = {CORE} | {f"{CORE}.{m.name}" for m in pkgutil.iter_modules(package.__path__)}
    return tuple(sorted(names - set(NO_OUTPUTS)))


def _update(h: hashlib._Hash, names: list[str] | tuple[str, ...]) -> None:
    for name in names:
        found = _spec_source(name)
        h.update(name.encode() + b"\0" + (found[0] if found else b"") + b"\0")


@lru_cache(maxsize=1)
def core_digest() -> str:
    h = hashlib.sha256()
    _update(h, core_modules())
    return h.hexdigest()


def digest(*classes: type) -> str:
    """One digest over the core and the code closures of the given plugin classes."""
    h = hashlib.sha256(core_digest().encode())
    _update(h, sorted({m for cls in classes for m in module_closure(cls.__module__)}))
    return h.hexdigest()[:20]
