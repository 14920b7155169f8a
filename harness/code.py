"""Digests of the code a stage runs, so a plugin fixed without a version bump is recomputed.

A plugin's code is its class's module and every module of the same top-level package that it
reaches through module globals (its helpers), plus the core modules whose code decides outputs
(``COMPUTE_CORE``: splitting, shared extractors, data sources). Other core modules (progress
bars, the CLI, the store) are not part of any key: editing them recomputes nothing.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from functools import lru_cache
from types import ModuleType

COMPUTE_CORE = frozenset({"harness.bases", "harness.scoring", "harness.sources"})


def _source(module: ModuleType) -> bytes:
    try:
        return inspect.getsource(module).encode()
    except (OSError, TypeError):  # no source on disk (a compiled or frozen module)
        return getattr(module, "__file__", module.__name__).encode()


def _reaches(module: ModuleType) -> set[str]:
    """Names of the modules whose objects ``module`` holds in its globals."""
    out = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            out.add(value.__name__)
        else:
            owner = getattr(value, "__module__", None)
            if isinstance(owner, str):
                out.add(owner)
    return out


@lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[str, ...]:
    """``name`` and the modules of its package (and ``COMPUTE_CORE``) it reaches, sorted."""
    top = name.split(".")[0]
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in sys.modules:
            continue
        seen.add(current)
        for other in _reaches(sys.modules[current]):
            if other.split(".")[0] == top or other in COMPUTE_CORE:
                todo.append(other)
    return tuple(sorted(seen))


def digest(*classes: type) -> str:
    """One digest over the code closures of the given plugin classes."""
    h = hashlib.sha256()
    modules = sorted({m for cls in classes for m in module_closure(cls.__module__)})
    for name in modules:
        h.update(name.encode() + b"\0" + _source(sys.modules[name]) + b"\0")
    return h.hexdigest()[:20]
