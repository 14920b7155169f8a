"""Which models may run their repository's own code (``trust_remote_code``).

None, unless a suite opts a model in by name (``trust_remote_code: [org/model]``); then that
model and every model the run trains from it may. Every loader asks ``trusted(path)`` rather
than passing a literal, so third-party backends and trainers can honour the same choice.
"""

from __future__ import annotations

from pathlib import Path

_allowed: set[str] = set()


def _norm(model: str) -> str:
    return str(Path(model).resolve()) if Path(model).exists() else model


def reset(models: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Allow exactly these models (hub ids or paths); called once per run."""
    _allowed.clear()
    _allowed.update(_norm(m) for m in models)


def allow(model: str) -> None:
    _allowed.add(_norm(model))


def trusted(model: str) -> bool:
    return _norm(model) in _allowed
