"""No pickles in what the harness writes or reads, safetensors only, no remote code."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT

PICKLED = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


def test_a_trained_model_holds_no_pickled_file(trained_tiny):
    files = [p for p in Path(trained_tiny).rglob("*") if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in files)
    assert not [p.name for p in files if p.suffix in PICKLED]


def test_the_code_never_unpickles_nor_trusts_remote_code():
    sources = [*ROOT.glob("harness/*.py"), *ROOT.glob("plugins/*/*.py")]
    text = {p: p.read_text() for p in sources}
    for pattern in (r"torch\.load\(", r"\bpickle\b", r"trust_remote_code\s*=\s*True",
                    r"weights_only\s*=\s*False"):
        assert not [p.name for p, t in text.items() if re.search(pattern, t)], pattern
    calls = [(p.name, _call(t, m.end())) for p, t in text.items()
             for m in re.finditer(r"ModelFor\w+\.from_pretrained\(", t)]
    assert len(calls) >= 4 and all("use_safetensors=True" in c for _, c in calls), calls
    assert 'load_format="safetensors"' in text[ROOT / "plugins" / "backends" / "vllm.py"]


def _call(text: str, start: int) -> str:
    """The arguments of a call whose opening parenthesis ends at ``start``."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return text[start:]
