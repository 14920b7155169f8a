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

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from harness import Footprint, Params, TrainContext, Trainer, TrainExample, hookimpl
from harness.errors import HarnessError
from harness_plugins.batching import attention_mask, encode, pad_right
from harness_plugins.trainers import finetune
from harness_plugins.trainers import lora as adapters
from harness_plugins.trainers.lora import LoraParams


class EarlyStopping(Params):
    """Stop training when the loss on held-out training examples stops falling, and keep the
    best epoch's weights. The held-out share is drawn from the trainer's own data, so for a
    student it is weak labels: no gold, no test item, decides when to stop."""

    holdout: float = Field(0.2, gt=0, lt=0.5, description="the share of the training examples "
                           "held out (drawn by the seed) to evaluate after every epoch")
    patience: int = Field(2, ge=1, description="epochs without a lower held-out loss before "
                          "training stops")


class SFT(Trainer):
    """Full fine-tuning, loss on answer tokens only (paper defaults: 2 epochs, batch 40, lr 1e-5)."""

    name = "sft"
    version = 1

    class Params(Params):
        epochs: float = Field(2.0, gt=0, description="passes over the data (the paper: 2)")
        max_steps: int | None = Field(None, ge=1, description="overrides epochs when set")
        batch_size: int = Field(40, ge=1, description="effective batch (micro x accumulation x devices)")
        micro_batch_size: int = Field(8, ge=1, description="examples per forward pass")
        lr: float = Field(1e-5, gt=0, description="peak learning rate (the paper: 1e-5)")
        weight_decay: float = Field(0.01, ge=0, description="weight decay (the paper: 0.01)")
        scheduler: str = Field("cosine", description="transformers' lr_scheduler_type")
        warmup_ratio: float = Field(0.0, ge=0, lt=1, description="share of steps warming up")
        optimizer: str = Field("adamw_torch", description="transformers' optim")
        max_length: int = Field(1024, ge=8, description="tokens kept of each prompt + target")
        bf16: Literal["auto", "on", "off"] = Field(
            "auto", description="bf16 compute: auto (where the device has it), on, off")
        gradient_checkpointing: bool = Field(
            False, description="recompute activations in the backward pass, for memory")
        lora: LoraParams | None = Field(
            None, description="train LoRA adapters (merged into the saved model), not all weights")
        early_stopping: EarlyStopping | None = Field(
            None, description="hold out a share of the training labels and keep the epoch with "
                              "the lowest loss on them (weak labels only, for a student)")

        @model_validator(mode="after")
        def _divisible(self):
            if self.batch_size % self.micro_batch_size:
                raise ValueError(
                    f"batch_size {self.batch_size} is not a multiple of "
                    f"micro_batch_size {self.micro_batch_size}"
                )
            return self

    def footprint(self) -> Footprint:
        p = self.params
        return Footprint(micro_batch_size=p.micro_batch_size, batch_size=p.batch_size,
                         max_length=p.max_length, epochs=p.epochs, max_steps=p.max_steps,
                         gradient_checkpointing=p.gradient_checkpointing,
                         **adapters.footprint(p.lora))

    def check_processes(self, processes: int) -> None:
        finetune.accumulation_steps(self.params.batch_size, self.params.micro_batch_size,
                                    processes)

    def train(
        self, base_model: str, data: list[TrainExample], out_dir: Path, ctx: TrainContext
    ) -> Path:
        from transformers import AutoModelForCausalLM, Trainer as HFTrainer

        p = self.params
        tok, model, args, data, held, callbacks = self.prepare(base_model, data, ctx)
        trainer = HFTrainer(
            model=model,
            args=args,
            train_dataset=encode(tok, data, p.max_length),
            eval_dataset=encode(tok, held, p.max_length) if held else None,
            data_collator=lambda batch: collate(batch, tok.pad_token_id),
            callbacks=[finetune.ProgressBar(ctx.progress_label), *callbacks],
        )
        finetune.fit(trainer, tok, base_model, out_dir, p.lora, AutoModelForCausalLM,
                     history=ctx.history)
        return out_dir

    def prepare(self, base_model: str, data: list[TrainExample], ctx: TrainContext) -> tuple:
        """What every run of this recipe sets up alike (``confidence`` too): the seed, the
        tokenizer, the model (whole or under LoRA), the ``TrainingArguments``, and the
        examples trained on and held out (with the early-stopping callback) or all of them."""
        from transformers import AutoModelForCausalLM, TrainingArguments, set_seed

        p = self.params
        set_seed(ctx.seed)
        tok = finetune.tokenizer(base_model)
        model = finetune.model(base_model, AutoModelForCausalLM, p.lora, "CAUSAL_LM")
        settings = finetune.arguments(
            ctx.work_dir, epochs=p.epochs, batch_size=p.batch_size,
            micro_batch_size=p.micro_batch_size, lr=p.lr, weight_decay=p.weight_decay,
            scheduler=p.scheduler, seed=ctx.seed, bf16=finetune.bf16_enabled(p.bf16))
        data, held, callbacks = self._early_stopping(data, settings, ctx.seed)
        args = TrainingArguments(
            **settings,
            max_steps=p.max_steps or -1,
            warmup_steps=p.warmup_ratio,  # a float below 1 is a ratio of all steps
            optim=p.optimizer,
            gradient_checkpointing=p.gradient_checkpointing,
            remove_unused_columns=False,
        )
        return tok, model, args, data, held, callbacks

    def _early_stopping(self, data: list[TrainExample], settings: dict, seed: int
                        ) -> tuple[list[TrainExample], list[TrainExample], list]:
        """With ``early_stopping``: the examples trained on and held out (a seeded draw), the
        ``TrainingArguments`` that evaluate and checkpoint every epoch and reload the best,
        and the callback that stops; else the data as it is."""
        import random

        from transformers import EarlyStoppingCallback

        stop = self.params.early_stopping
        if stop is None:
            return data, [], []
        order = random.Random(f"early-stopping:{seed}").sample(range(len(data)), len(data))
        n = round(stop.holdout * len(data))
        if n < 1 or n >= len(data):
            raise HarnessError(f"sft: early_stopping.holdout {stop.holdout} of {len(data)} "
                               "examples holds out none or all of them; train on more "
                               "examples or change the share")
        settings.update(eval_strategy="epoch", save_strategy="epoch", save_total_limit=2,
                        load_best_model_at_end=True, metric_for_best_model="eval_loss",
                        greater_is_better=False, save_only_model=True)
        return ([data[i] for i in sorted(order[n:])], [data[i] for i in sorted(order[:n])],
                [EarlyStoppingCallback(early_stopping_patience=stop.patience)])


def collate(batch: list[dict], pad_id: int) -> dict:
    ids = [b["input_ids"] for b in batch]
    return {"input_ids": pad_right(ids, pad_id),
            "labels": pad_right([b["labels"] for b in batch], -100),
            "attention_mask": attention_mask(ids)}


@hookimpl
def register_trainers(register):
    register(SFT)
