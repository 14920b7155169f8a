"""CPU training fit: the harness's ``sft`` trainer against a bare PyTorch loop, same model, data
and settings, timed in one run (a ratio; no timed test).

Both train SmolLM2-135M (``harness models build smollm2-135m``) for the same optimizer steps on
the same e-SNLI label-only examples (prompt tokens masked, the answer and the end token
scored): the same tokenization (``harness_plugins.batching.encode``, once), micro-batches
right-padded to their own longest sequence, AdamW with weight decay, cosine decay, gradient
clipping at 1.0, fp32 on the CPU, with the threads the executor would give one stage. The bare
loop is what the trainer should cost: its overhead over it is the ratio ``sft / bare``.

    python bench/sft_fit.py [--steps 20] [--micro-batch 8] [--threads 2] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path


def examples(data_dir: str, n: int):
    from harness import TrainExample
    from harness.plugins import registry

    cap = registry().make("capabilities", "esnli", {"explanation": "none"})
    rows = cap.pools(str(Path(data_dir) / "esnli"), 0)["train"]
    rows = random.Random(0).sample(rows, n)
    return [TrainExample(prompt=r.prompt, target=r.target) for r in rows]


def bare(model_dir: str, data, steps: int, micro: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` optimizer steps of a plain loop."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

    from harness_plugins.batching import encode
    from harness_plugins.trainers.sft import collate

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 use_safetensors=True)
    model.train()
    rows = encode(tok, data, 1024)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}], lr=lr)
    sched = get_cosine_schedule_with_warmup(opt, 0, steps)
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    t0 = time.perf_counter()
    for step in range(steps):
        idx = order[step * micro:(step + 1) * micro]
        batch = collate([rows[i] for i in idx], tok.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def harness_sft(model_dir: str, data, steps: int, micro: int, lr: float, seed: int) -> float:
    """Seconds for the same steps through the ``sft`` trainer (model load and save excluded:
    timed from its first to its last step by a callback)."""
    from transformers import TrainerCallback

    from harness import TrainContext
    from harness.plugins import registry
    from harness_plugins.trainers import finetune

    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            marks["begin"] = time.perf_counter()

        def on_train_end(self, *a, **k):
            marks["end"] = time.perf_counter()

    real = finetune.ProgressBar
    finetune.ProgressBar = lambda label: Clock()  # the bar's own cost is the same order as its ticks
    try:
        trainer = registry().make("trainers", "sft", {
            "max_steps": steps, "batch_size": micro, "micro_batch_size": micro, "lr": lr})
        with tempfile.TemporaryDirectory() as out:
            trainer.train(model_dir, data, Path(out) / "model",
                          TrainContext(seed=seed, work_dir=Path(out) / "work",
                                       progress_label="bench sft"))
    finally:
        finetune.ProgressBar = real
    return marks["end"] - marks["begin"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--data-dir", default=str(Path(__file__).parents[1].parent / "shared" / "data"))
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_QUIET", "1")
    from harness.resolver import resolve
    from harness.worker import set_threads

    import torch  # noqa: F401  (set_threads sets torch's threads once it is imported)

    set_threads(args.threads)
    model = resolve("smollm2-135m")
    data = examples(args.data_dir, args.steps * args.micro_batch)
    # Alternate, so a slow phase of the machine hits both; the first pair warms the caches.
    times = {"sft": [], "bare": []}
    for _ in range(2):
        times["bare"].append(bare(model, data, args.steps, args.micro_batch, args.lr, 0))
        times["sft"].append(harness_sft(model, data, args.steps, args.micro_batch, args.lr, 0))
    sft_s, bare_s = min(times["sft"]), min(times["bare"])
    print(f"smollm2-135m, {args.steps} steps of {args.micro_batch}, {args.threads} threads: "
          f"sft {sft_s:.1f}s ({sft_s / args.steps:.2f} s/step), bare loop {bare_s:.1f}s "
          f"({bare_s / args.steps:.2f} s/step); runs {times}")
    print(f"sft / bare: {sft_s / bare_s:.3f}")


if __name__ == "__main__":
    main()
