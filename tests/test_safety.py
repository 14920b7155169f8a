"""No pickles in what the harness writes or reads, safetensors only, no remote code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import ROOT

PICKLED = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


@pytest.mark.slow
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
    # safetensors, or a GGUF file (a registry's wheel, converted by harness.converted)
    assert len(calls) >= 4 and all("use_safetensors=True" in c or "gguf_file=" in c
                                   for _, c in calls), calls
    vllm = text[ROOT / "plugins" / "backends" / "vllm.py"]
    assert 'load_format="safetensors"' in vllm
    # Remote code only where the suite opted the model in: every loader asks harness.trust.
    loaders = [(p.name, _call(t, m.end())) for p, t in text.items()
               for m in re.finditer(r"Auto\w+\.from_pretrained\(|\bLLM\(", t)]
    assert all(re.search(r"trust_remote_code=(remote|trusted\(|False)", c)
               for _, c in loaders), loaders


def test_remote_code_is_trusted_only_for_opted_in_models_and_their_descendants(tmp_path):
    from harness import trust
    from harness.schemas import Suite
    from harness.planner import plan
    from harness.plugins import registry
    from harness.runners import DecodeParams, _model
    from harness.jobs import Job
    from harness.worker import execute

    def suite(**extra):
        return Suite.model_validate({
            "name": "t", "weak": "tiny-weak", "strong": "tiny-strong",
            "capabilities": [{"name": "synth_scan"}], "seeds": [0], **extra})

    _, graph = plan(suite(trust_remote_code=["tiny-strong"]), registry(), "hf")
    stages = {s.label.split(" [")[0]: (node, s) for node, s in graph.stages.items()}
    evals = {"train weak": "eval weak", "train ceiling": "eval ceiling",
             "train naive": "eval naive", "train format control": "eval format control"}
    assert {k for k, (_, s) in stages.items() if s.kind == "train"} == set(evals)
    for train, expected in (("train weak", False), ("train ceiling", True),
                            ("train naive", True), ("train format control", True)):
        node, spec = stages[train]
        assert spec.params.trust_remote_code is expected, train
        # The stage that decodes this model loads it trusting exactly as much.
        decode = stages[evals[train]][1]
        trust.reset()
        path = _model(DecodeParams.of(decode), {"model": tmp_path / node}, "model")
        assert trust.trusted(path) is expected, evals[train]
    _, plain = plan(suite(), registry(), "hf")
    assert not any(getattr(s.params, "trust_remote_code", False) for s in plain.stages.values())
    # Each stage starts trusting nothing, whatever ran before it in the same process.
    trust.allow(str(tmp_path / "leftover"))
    data = next(s for s in plain.stages.values() if s.kind == "data")
    execute(Job(spec=data, key="k", root=str(tmp_path / "home")))
    assert not trust.trusted(str(tmp_path / "leftover")), "a stage starts trusting nothing"
    with pytest.raises(ValidationError, match="neither the weak nor the strong"):
        suite(trust_remote_code=["evil/model"])


def _call(text: str, start: int) -> str:
    """The arguments of a call whose opening parenthesis ends at ``start``."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return text[start:]
