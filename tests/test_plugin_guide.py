"""docs/plugins.md's walk-through, run as written: every block that names a file is written,
and its commands run offline, as a plugin author would type them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

GUIDE = ROOT / "docs" / "plugins.md"


def files(text: str) -> dict[str, str]:
    """Each fenced block whose first line is ``# file: PATH``, by its path."""
    out = {}
    for block in re.findall(r"```\w*\n(.*?)```", text, flags=re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            out[first.removeprefix("# file: ").strip()] = body
    return out


def test_the_guide_walks_a_local_files_capability_through_the_kit_offline(tmp_path):
    written = files(GUIDE.read_text())
    assert {"my_w2s/pyproject.toml", "my_w2s/my_w2s/__init__.py", "my_w2s/my_w2s/rephrase.py",
            "make_data.py", "steps.sh"} <= set(written)
    for path, body in written.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    bin_dir = str(Path(sys.executable).parent)  # pip, python, harness, pytest of this env
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PIP_NO_INDEX": "1"}
    proc = subprocess.run(["bash", "-e", "-x", "steps.sh"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "prefix" in out  # `harness list capability my_quiz` shows its param
    assert len(re.findall(r"(\d+) of \1 checks passed", out)) == 2, out  # my_quiz, my_rephrase
    assert re.search(r"my_rephrase +deterministic for a seed, across processes +ok", out), out
    assert "FAIL" not in out
    assert re.search(r"\d+ passed", out) and " failed" not in out, out[-2000:]
