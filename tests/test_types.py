"""The planner is typed through: the registry hands back each plugin as its kind's type, so
the planner needs no ``# type: ignore`` (issue 34), and mypy checks it stays so."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

from conftest import ROOT, need

TYPED = ["harness/planner.py", "harness/registry.py", "harness/reference.py"]


def test_the_planner_has_no_type_ignores_and_mypy_passes():
    assert "type: ignore" not in (ROOT / "harness" / "planner.py").read_text()
    need("mypy (pip install -e '.[dev]')", find_spec("mypy") is not None)
    proc = subprocess.run([sys.executable, "-m", "mypy", *TYPED], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_the_registry_types_what_it_makes():
    """What mypy reads is what runs: each kind's plugin comes back as that kind's base."""
    from harness.bases import KINDS
    from harness.plugins import registry

    reg = registry()
    for kind, base in KINDS.items():
        name = next(iter(reg.entries[kind]))
        assert isinstance(reg.make(kind, name), base)
