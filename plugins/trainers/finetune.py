"""The transformers fine-tuning that ``sft`` and the reward model share: loading a base (whole
or under LoRA), the ``TrainingArguments`` both set alike, an effective batch kept exact across
processes, and saving in the base's dtype (or merging the adapter first).

One module, so a fix to how either trains (a dtype, a save, the progress bar) is made once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.trust import trusted
from harness_plugins.trainers import lora as adapters
from harness_plugins.trainers.lora import LoraParams


def tokenizer(base: str):
    """``base``'s tokenizer, padding with end-of-text where it has no pad token."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base, trust_remote_code=trusted(base))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def model(base: str, model_cls, lora: LoraParams | None, task: str, **config):
    """``base`` as ``model_cls``: fp32 weights (the optimizer's master copy; bf16 autocast runs
    where the device has it), or under LoRA a frozen bf16 (or 4-bit) base with adapters."""
    import torch

    load = adapters.load_kwargs(lora) if lora else {"dtype": torch.float32}
    out = model_cls.from_pretrained(base, use_safetensors=True, trust_remote_code=trusted(base),
                                    **config, **load)
    return adapters.wrap(out, lora, task) if lora else out


def arguments(work_dir: Path, *, epochs: float, batch_size: int, micro_batch_size: int,
              lr: float, weight_decay: float, scheduler: str, seed: int, bf16: bool) -> dict:
    """The ``TrainingArguments`` fields both trainers set alike: the harness's own progress bar
    (stdout is kept for tables), no checkpoints mid-run, no reporting, and several CPU ranks
    talking over gloo where there is no GPU."""
    import torch

    return dict(
        output_dir=str(work_dir), num_train_epochs=epochs,
        per_device_train_batch_size=micro_batch_size,
        gradient_accumulation_steps=accumulation_steps(batch_size, micro_batch_size,
                                                       world_size()),
        learning_rate=lr, weight_decay=weight_decay, lr_scheduler_type=scheduler, seed=seed,
        data_seed=seed, save_strategy="no", report_to=[], logging_steps=1, disable_tqdm=True,
        dataloader_num_workers=0, bf16=bf16, use_cpu=not torch.cuda.is_available(),
    )


def fit(trainer, tok, base: str, out_dir: Path, lora: LoraParams | None, model_cls,
        history: Path | None = None, **config) -> None:
    """Train, then save ``out_dir`` as an ordinary checkpoint in ``base``'s dtype (merging the
    adapter into ``base`` under LoRA; ``config`` is how ``base`` is loaded for that); append
    the loss at every step to ``history`` (``TrainContext.history``) when given."""
    from transformers import PrinterCallback

    dtype = stored_dtype(base)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    if history is not None and trainer.is_world_process_zero():
        state = trainer.state
        with history.open("a") as f:
            for log in state.log_history:
                # not the closing summary, whose runtimes vary run to run
                if "loss" in log or "eval_loss" in log:
                    f.write(json.dumps({k: log[k] for k in HISTORY if k in log}) + "\n")
            if state.best_model_checkpoint is not None:  # early stopping: what it kept
                f.write(json.dumps({"best_step": state.best_global_step,
                                    "best_eval_loss": state.best_metric,
                                    "stopped_step": state.global_step}) + "\n")
    if lora:
        save_merged(trainer, tok, base, out_dir, dtype, model_cls, **config)
    else:
        save(trainer, tok, out_dir, dtype)


HISTORY = ("step", "epoch", "loss", "learning_rate", "eval_loss")
"""What a training curve keeps of each logged step (and, under early stopping, each epoch's
held-out loss): what the run's page draws and the trackers log."""


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
        save_tokenizer(tok, out_dir)
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
        save_tokenizer(tok, out_dir)


LOAD_TIME = ("local_files_only", "is_local")
"""Keys transformers writes into a saved ``tokenizer_config.json`` that say how the tokenizer
was loaded (``HF_HUB_OFFLINE``, hub or folder), not what it is."""


def save_tokenizer(tok, out_dir: Path) -> None:
    """The tokenizer, without ``LOAD_TIME`` keys: the same model saved with and without
    ``HF_HUB_OFFLINE=1`` gets the same digest, so no downstream stage's key depends on it."""
    import json

    tok.save_pretrained(str(out_dir))
    path = out_dir / "tokenizer_config.json"
    config = json.loads(path.read_text())
    if set(LOAD_TIME) & config.keys():
        path.write_text(json.dumps({k: v for k, v in config.items() if k not in LOAD_TIME},
                                   indent=2, ensure_ascii=False) + "\n")


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
