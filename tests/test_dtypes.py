"""Checkpoints keep the base model's dtype: a bf16 base saves bf16 safetensors (half the disk
of fp32), an fp32 base saves fp32; training itself keeps fp32 master weights."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def _dtypes(folder) -> set[str]:
    from safetensors import safe_open

    out = set()
    for file in folder.glob("*.safetensors"):
        with safe_open(str(file), "pt") as f:
            out |= {str(f.get_slice(k).get_dtype()) for k in f.keys()}
    return out


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_a_trained_checkpoint_is_saved_in_its_base_models_dtype(dtype, tiny_models, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness import TrainContext, TrainExample
    from harness.plugins import registry

    base = tmp_path / "base"
    AutoModelForCausalLM.from_pretrained(tiny_models["tiny-strong"], dtype=getattr(torch, dtype)) \
        .save_pretrained(str(base))
    AutoTokenizer.from_pretrained(tiny_models["tiny-strong"]).save_pretrained(str(base))
    expected = {"BF16"} if dtype == "bfloat16" else {"F32"}
    assert _dtypes(base) == expected
    trainer = registry().make("trainers", "sft", {"max_steps": 2, "batch_size": 4,
                                                  "micro_batch_size": 4, "lr": 1e-3})
    data = [TrainExample(prompt=f"q{i} ", target=f"a{i}") for i in range(8)]
    trainer.train(str(base), data, tmp_path / "out", TrainContext(seed=0, work_dir=tmp_path / "w"))
    assert _dtypes(tmp_path / "out") == expected


def test_a_trained_checkpoint_records_nothing_of_how_its_base_was_loaded(tiny_models, tmp_path):
    """transformers writes the tokenizer's load-time ``local_files_only`` and ``is_local`` into
    the saved ``tokenizer_config.json``: the same weights under ``HF_HUB_OFFLINE=1`` and without
    it would get different digests, so every stage downstream would get another key."""
    import json

    from harness import TrainContext, TrainExample
    from harness.plugins import registry

    trainer = registry().make("trainers", "sft", {"max_steps": 1, "batch_size": 4,
                                                  "micro_batch_size": 4, "lr": 1e-3})
    data = [TrainExample(prompt=f"q{i} ", target=f"a{i}") for i in range(4)]
    trainer.train(tiny_models["tiny-weak"], data, tmp_path / "out",
                  TrainContext(seed=0, work_dir=tmp_path / "w"))
    saved = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert not {"local_files_only", "is_local"} & saved.keys(), saved
