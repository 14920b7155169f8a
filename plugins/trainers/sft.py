"""Full fine-tuning with the loss on answer tokens only, with the paper's defaults.

Built on the transformers ``Trainer`` so the same code runs on one CPU, one GPU, or as several
processes under the harness's launcher (``resources: {train: {ranks: N, strategy: fsdp}}``),
with the effective batch kept exact. Weights load in fp32, the master copy the optimizer keeps
(sharded across ranks under FSDP or ZeRO-3); compute runs in bf16 where the device has it;
checkpoints are saved in the base model's dtype. The paper says "Adam, weight decay 0.01": we
read that as AdamW (decoupled decay, the transformers default); ``optimizer`` switches it.
``lora`` trains adapters instead of every weight (a departure from the paper; see ``lora.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from harness import Params, TrainContext, Trainer, TrainExample, hookimpl
from harness.errors import HarnessError
from harness.trust import trusted
from harness_plugins.batching import attention_mask, encode, pad_right
from harness_plugins.trainers import lora as adapters
from harness_plugins.trainers.lora import LoraParams


class SFT(Trainer):
    """Full fine-tuning, loss on answer tokens only (paper defaults: 2 epochs, batch 40, lr 1e-5)."""

    name = "sft"
    version = 1

    class Params(Params):
        epochs: float = Field(2.0, gt=0)
        max_steps: int | None = Field(None, ge=1, description="overrides epochs when set")
        batch_size: int = Field(40, ge=1, description="effective batch (micro x accumulation x devices)")
        micro_batch_size: int = Field(8, ge=1)
        lr: float = Field(1e-5, gt=0)
        weight_decay: float = Field(0.01, ge=0)
        scheduler: str = "cosine"
        warmup_ratio: float = Field(0.0, ge=0, lt=1)
        optimizer: str = "adamw_torch"
        max_length: int = Field(1024, ge=8)
        bf16: Literal["auto", "on", "off"] = "auto"
        gradient_checkpointing: bool = False
        lora: LoraParams | None = Field(
            None, description="train LoRA adapters (merged into the saved model), not all weights")

        @model_validator(mode="after")
        def _divisible(self):
            if self.batch_size % self.micro_batch_size:
                raise ValueError(
                    f"batch_size {self.batch_size} is not a multiple of "
                    f"micro_batch_size {self.micro_batch_size}"
                )
            return self

    def check_processes(self, processes: int) -> None:
        accumulation_steps(self.params.batch_size, self.params.micro_batch_size, processes)

    def train(
        self, base_model: str, data: list[TrainExample], out_dir: Path, ctx: TrainContext
    ) -> Path:
        import torch
        from transformers import (
            AutoModelForCausalLM,
            AutoTokenizer,
            PrinterCallback,
            Trainer as HFTrainer,
            TrainingArguments,
            set_seed,
        )

        p = self.params
        set_seed(ctx.seed)
        remote = trusted(base_model)
        tok = AutoTokenizer.from_pretrained(base_model, trust_remote_code=remote)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        # fp32 weights: the optimizer's master copy; bf16 autocast runs where the device has it.
        # Under LoRA the frozen base loads in bf16 (or 4-bit) and only the adapters train.
        load = adapters.load_kwargs(p.lora) if p.lora else {"dtype": torch.float32}
        model = AutoModelForCausalLM.from_pretrained(
            base_model, use_safetensors=True, trust_remote_code=remote, **load)
        if p.lora:
            model = adapters.wrap(model, p.lora, "CAUSAL_LM")
        base_dtype = stored_dtype(base_model)
        accumulation = accumulation_steps(p.batch_size, p.micro_batch_size, world_size())
        bf16 = bf16_enabled(p.bf16)
        args = TrainingArguments(
            output_dir=str(ctx.work_dir),
            num_train_epochs=p.epochs,
            max_steps=p.max_steps or -1,
            per_device_train_batch_size=p.micro_batch_size,
            gradient_accumulation_steps=accumulation,
            learning_rate=p.lr,
            weight_decay=p.weight_decay,
            lr_scheduler_type=p.scheduler,
            warmup_steps=p.warmup_ratio,  # a float below 1 is a ratio of all steps
            optim=p.optimizer,
            bf16=bf16,
            use_cpu=not torch.cuda.is_available(),  # several CPU ranks then talk over gloo
            gradient_checkpointing=p.gradient_checkpointing,
            seed=ctx.seed,
            data_seed=ctx.seed,
            save_strategy="no",
            report_to=[],
            logging_steps=10,
            disable_tqdm=True,  # our own bar, on stderr: stdout is kept for tables
            dataloader_num_workers=0,
            remove_unused_columns=False,
        )
        trainer = HFTrainer(
            model=model,
            args=args,
            train_dataset=encode(tok, data, p.max_length),
            data_collator=lambda batch: collate(batch, tok.pad_token_id),
            callbacks=[ProgressBar(ctx.progress_label)],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        if p.lora:
            save_merged(trainer, tok, base_model, out_dir, base_dtype, AutoModelForCausalLM)
        else:
            save(trainer, tok, out_dir, base_dtype)
        return out_dir


def world_size() -> int:
    """Processes (or, without a launcher, visible GPUs) that each take a micro-batch per step."""
    import torch

    if "WORLD_SIZE" in os.environ:  # under torchrun / accelerate launch
        return int(os.environ["WORLD_SIZE"])
    return max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1


def accumulation_steps(batch_size: int, micro_batch_size: int, world: int) -> int:
    """Gradient accumulation that makes the effective batch exactly ``batch_size``."""
    per_step = micro_batch_size * world
    if batch_size % per_step:
        raise HarnessError(
            f"batch_size {batch_size} cannot be split exactly into micro_batch_size "
            f"{micro_batch_size} x {world} processes x whole accumulation steps; choose a "
            f"micro_batch_size and a number of processes whose product divides {batch_size}")
    return batch_size // per_step


def stored_dtype(model: str):
    """The dtype a model folder's weights are stored in (its config's), fp32 if it names none."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, trust_remote_code=trusted(model))
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def save(trainer, tok, out_dir: Path, dtype) -> None:
    """Weights as safetensors in ``dtype`` (the base model's: a bf16 base saves bf16, half the
    disk of fp32) and the tokenizer; not the pickled ``training_args.bin`` that transformers
    adds, so nothing in the cache ever needs unpickling. Under FSDP the full state dict is
    gathered to rank 0, which alone writes and casts."""
    trainer.save_model(str(out_dir))
    if trainer.is_world_process_zero():
        tok.save_pretrained(str(out_dir))
        (out_dir / "training_args.bin").unlink(missing_ok=True)
        cast_saved(out_dir, dtype)


def save_merged(trainer, tok, base: str, out_dir: Path, dtype, model_cls, **load) -> None:
    """Save the trained adapter, then (rank 0) merge it into ``base`` as an ordinary
    checkpoint in ``dtype``, with the tokenizer."""
    adapter = Path(trainer.args.output_dir) / "adapter"
    trainer.save_model(str(adapter))
    if trainer.is_world_process_zero():
        adapters.merge(base, adapter, out_dir, model_cls, dtype,
                       trust_remote_code=trusted(base), **load)
        tok.save_pretrained(str(out_dir))


def cast_saved(folder: Path, dtype) -> None:
    """Rewrite ``folder``'s safetensors (and its config's dtype) in ``dtype``, on disk: the
    trained model (fp32 master weights, maybe sharded) is never cast in place."""
    import json

    from safetensors.torch import load_file, save_file

    for file in sorted(folder.glob("*.safetensors")):
        tensors = load_file(str(file))
        if all(t.dtype == dtype or not t.is_floating_point() for t in tensors.values()):
            continue
        save_file({k: t.to(dtype) if t.is_floating_point() else t for k, t in tensors.items()},
                  str(file), metadata={"format": "pt"})
    config = folder / "config.json"
    if config.is_file():
        fields = json.loads(config.read_text())
        name = str(dtype).removeprefix("torch.")
        for key in ("dtype", "torch_dtype"):
            if key in fields:
                fields[key] = name
        config.write_text(json.dumps(fields, indent=2) + "\n")


def bf16_enabled(mode: str) -> bool:
    """``auto``: bf16 exactly where the device supports it (CUDA with bf16), else fp32."""
    import torch

    return mode == "on" or (
        mode == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def ProgressBar(label: str):
    """A Trainer callback drawing one progress bar (rate, ETA, loss) on stderr."""
    from transformers import TrainerCallback

    from harness.progress import progress

    class _Bar(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = progress(total=state.max_steps, desc=label, unit="step")

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return _Bar()


def collate(batch: list[dict], pad_id: int) -> dict:
    ids = [b["input_ids"] for b in batch]
    return {"input_ids": pad_right(ids, pad_id),
            "labels": pad_right([b["labels"] for b in batch], -100),
            "attention_mask": attention_mask(ids)}


@hookimpl
def register_trainers(register):
    register(SFT)
