"""LoRA (peft) in sft and the reward model: adapters train, merge into an ordinary checkpoint
in the base model's dtype, and the merged model is what backends decode."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _keys_and_dtypes(folder):
    from safetensors import safe_open

    keys, dtypes = set(), set()
    for file in folder.glob("*.safetensors"):
        with safe_open(str(file), "pt") as f:
            keys |= set(f.keys())
            dtypes |= {str(f.get_slice(k).get_dtype()) for k in f.keys()}
    return keys, dtypes


def test_lora_sft_trains_and_saves_a_merged_model(lora_tiny, tiny_models):
    from pathlib import Path

    from harness.plugins import registry
    from harness_plugins.backends.hf import teacher_forced_logprobs

    merged, _ = _keys_and_dtypes(Path(lora_tiny))
    base, _ = _keys_and_dtypes(Path(tiny_models["tiny-strong"]))
    assert merged == base, "a merged checkpoint has exactly the base model's tensors"
    assert not any("lora" in k for k in merged)
    cap = registry().make("capabilities", "synth_scan", {"labeled": 400, "unlabeled": 10,
                                                         "test": 64})
    test = cap.load(0).test
    prompts, targets = [r.prompt for r in test], [r.target for r in test]
    before = teacher_forced_logprobs(tiny_models["tiny-strong"], prompts, targets)
    after = teacher_forced_logprobs(lora_tiny, prompts, targets)
    assert sum(after) / len(after) > sum(before) / len(before) + 0.5, "the adapters trained"


def test_lora_params_are_checked_and_qlora_needs_cuda(tiny_models, tmp_path):
    from harness import TrainContext, TrainExample
    from harness.errors import HarnessError, PluginError
    from harness.plugins import registry

    with pytest.raises(PluginError, match="lora"):
        registry().make("trainers", "sft", {"lora": {"rank": 8}})
    trainer = registry().make("trainers", "sft", {"max_steps": 1, "batch_size": 2,
                                                  "micro_batch_size": 2,
                                                  "lora": {"quantize": "4bit"}})
    with pytest.raises(HarnessError, match="needs a CUDA device"):
        trainer.train(tiny_models["tiny-strong"], [TrainExample(prompt="a ", target="b")] * 2,
                      tmp_path / "out", TrainContext(seed=0, work_dir=tmp_path / "w"))


def test_a_lora_reward_model_merges_its_head_and_scores(tiny_models, tmp_path):
    from harness_plugins.selectors.reward import RewardParams, reward_scores, train_reward_model

    good = [f"walk {i} = WALK" for i in range(12)]
    bad = [f"walk {i} = JUMP" for i in range(12)]
    p = RewardParams(epochs=3, lr=1e-2, batch_size=8, micro_batch_size=8,
                     lora={"r": 8, "alpha": 16})
    train_reward_model(tiny_models["tiny-strong"], list(zip(good, bad)), p, tmp_path / "rm", 0)
    keys, _ = _keys_and_dtypes(tmp_path / "rm")
    assert any(k.startswith("score") for k in keys) and not any("lora" in k for k in keys)
    scores = reward_scores(tmp_path / "rm", good + bad, 8)
    assert sum(scores[:12]) > sum(scores[12:]), "the merged head ranks what it was trained on"
