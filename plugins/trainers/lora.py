"""LoRA and QLoRA (peft) for the trainers that fine-tune a whole model: a departure from the
paper's full fine-tuning, for users whose GPU cannot hold a 7B model's optimizer state.

The frozen base is loaded in bf16 where the device has it (4-bit NF4 for QLoRA, CUDA only); the
adapters train in fp32. After training the adapter is merged into a fresh copy of the base in
its stored dtype and saved as an ordinary checkpoint, so every backend (hf, vllm) decodes it
with no adapter support and the cache holds one kind of model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import HarnessError


class LoraParams(BaseModel):
    """Set ``lora: {}`` in a trainer's params for the defaults (rank 16 on every linear layer)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="adapter rank")
    alpha: int = Field(32, ge=1, description="scaling numerator (scale = alpha / r)")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        "all-linear", description="peft's target_modules: 'all-linear' or module names")
    quantize: Literal["none", "4bit"] = Field(
        "none", description="4bit: QLoRA, the frozen base in NF4 (CUDA and bitsandbytes)")


def footprint(lora: LoraParams | None) -> dict:
    """The ``harness.Footprint`` fields of a trainer's ``lora`` param (none: full tuning)."""
    return {"lora_rank": lora.r, "quantized": lora.quantize == "4bit"} if lora else {}


def load_kwargs(lora: LoraParams) -> dict:
    """``from_pretrained`` arguments for the frozen base: bf16 on a bf16 device, else fp32."""
    import torch

    cuda = torch.cuda.is_available()
    if lora.quantize == "4bit":
        if not cuda:
            raise HarnessError("lora.quantize 4bit (QLoRA) needs a CUDA device and bitsandbytes; "
                               "on this machine use quantize: none")
        from transformers import BitsAndBytesConfig

        return {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16), "dtype": torch.bfloat16}
    bf16 = cuda and torch.cuda.is_bf16_supported()
    return {"dtype": torch.bfloat16 if bf16 else torch.float32}


def wrap(model, lora: LoraParams, task: Literal["CAUSAL_LM", "SEQ_CLS"]):
    """``model`` with trainable adapters (and, for a scalar head, that head trainable too)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if lora.quantize == "4bit":
        model = prepare_model_for_kbit_training(model)
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules, task_type=task,
                        modules_to_save=["score"] if task == "SEQ_CLS" else None)
    return get_peft_model(model, config)


def merge(base: str, adapter: Path, out_dir: Path, model_cls, dtype, **load) -> None:
    """Merge the adapter saved in ``adapter`` into ``base`` (reloaded unquantized, in ``dtype``)
    and save the result to ``out_dir``."""
    from peft import PeftModel

    model = model_cls.from_pretrained(base, dtype=dtype, use_safetensors=True, **load)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(str(out_dir))
