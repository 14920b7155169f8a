"""Keeping gold away from selectors: while a selector runs, opening any file under the data
entries (where the splits' gold answers live) fails, through a Python audit hook.

Selectors get their pool as arguments and must never read gold. They run in-process with the
cache on disk, so a selector could open a data entry's ``unlabeled.jsonl`` by path (its work
directory lies inside the same cache); this makes that attempt an error naming the file,
rather than a silent leak. It guards Python-level opens, not native code.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

_FORBIDDEN: list[str] = []
_INSTALLED = False


class GoldLeak(PermissionError):
    """A selector opened a file that holds gold answers."""


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _FORBIDDEN or not args or not isinstance(args[0], (str, Path)):
        return
    path = os.path.realpath(os.fspath(args[0]))
    for root in _FORBIDDEN:
        if path == root or path.startswith(root + os.sep):
            raise GoldLeak(f"read gold data: {path} is a data entry, which selectors may not "
                           "open; select from the pool it is given")


@contextmanager
def no_gold(*roots: Path):
    """Within the block, opening anything under ``roots`` raises ``GoldLeak``."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED = True
    added = [os.path.realpath(r) for r in roots]
    _FORBIDDEN.extend(added)
    try:
        yield
    finally:
        for r in added:
            _FORBIDDEN.remove(r)
