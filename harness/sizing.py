"""Sizing a suite for GPUs: memory per GPU, the launch each stage needs, GPU-hours, disk, and
wall-clock, by arithmetic on model shapes and the suite's own data. No torch, no GPU.

Every figure here is an estimate, and says so where it is shown. The assumptions:
- **Training memory** (per GPU): full fine-tuning keeps fp32 weights, fp32 gradients and AdamW's
  two fp32 moments, 16 bytes a parameter, divided by the ranks under FSDP or ZeRO-3, and its
  optimizer step adds a 4-byte temporary per trained parameter (measured: ``bench/calibrate.py``
  on the CPU found 11.1 GiB where 16 bytes a parameter gives 9.2, at Qwen1.5-0.5B's shape and
  negligible activations); the peak is the larger of the step's and the backward pass's. LoRA keeps
  the frozen base in bf16 (2 bytes, or ~0.55 in 4-bit) and 16 bytes per adapter parameter.
  Activations follow Korthikanti et al. (2022) for bf16 with flash attention, 34 x seq x batch x
  hidden bytes a layer (2 x seq x batch x hidden under activation checkpointing, plus one layer);
  the LM head adds bf16 logits, their fp32 copy for the loss and its gradient (10 bytes per
  vocabulary entry per token). Plus ``OVERHEAD_GIB`` for the CUDA context and fragmentation.
- **Inference memory**: bf16 weights (split over tensor-parallel ranks) must fit in the share of
  the GPU vLLM may use, leaving at least ``KV_MIN_SHARE`` of it for the KV cache.
- **Compute**: 6 x parameters x tokens for full fine-tuning, 4 x for LoRA (no weight gradients),
  plus 2 x for recomputation under checkpointing; 2 x for a forward pass; at ``mfu`` of the GPU's
  peak for training and prefill, ``decode_mfu`` for token-by-token generation.
- **Tokens**: counted from the suite's data with the model's own tokenizer when it is on disk,
  else at ``CHARS_PER_TOKEN``; a selected training set is its selector's ``ratio`` of the pool
  (the whole pool when it has none), generation as long as the gold targets (capped by the
  decode budget).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from harness.errors import HarnessError
from harness.executors import Executor
from harness.graph import Graph, Resources, StageSpec
from harness.jobs import Job, Outcome
from harness.launch import SHARDED
from harness.planner import SPLIT_FILES
from harness.footprint import Footprint, footprint_of
from harness.registry import Registry
from harness.runners import KINDS, DataParams, DecodeParams, Ref, SelectParams, TrainParams, \
    params_of
from harness.scheduler import run_graph
from harness.store import Store
from harness.tokens import chars_as_tokens, counter

GIB = 2**30
OVERHEAD_GIB = 2.0
KV_MIN_SHARE = 0.1
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}

KNOWN: dict[str, dict[str, Any]] = {
    # config.json fields of the paper's model family, so a plan needs no hub access.
    f"Qwen/Qwen1.5-{size}": {"model_type": "qwen2", "hidden_size": h, "intermediate_size": i,
                             "num_hidden_layers": layers, "num_attention_heads": heads,
                             "num_key_value_heads": heads, "vocab_size": vocab,
                             "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    for size, h, i, layers, heads, vocab in (
        ("0.5B", 1024, 2816, 24, 16, 151936), ("1.8B", 2048, 5504, 24, 16, 151936),
        ("4B", 2560, 6912, 40, 20, 151936), ("7B", 4096, 11008, 32, 32, 151936),
        ("14B", 5120, 13696, 40, 40, 152064))
}


class Shape(BaseModel):
    """What sizing needs of a decoder-only transformer."""

    name: str
    params: int
    hidden: int
    layers: int
    heads: int
    vocab: int
    linear: list[tuple[int, int]]
    """(in, out) of every linear layer of one block: what LoRA adapts."""
    dtype_bytes: int

    @classmethod
    def from_config(cls, name: str, c: dict[str, Any]) -> Shape:
        h, layers = c["hidden_size"], c["num_hidden_layers"]
        heads = c.get("num_attention_heads", 1)
        kv = c.get("num_key_value_heads") or heads
        head_dim = c.get("head_dim") or h // heads
        inter = c.get("intermediate_size", 4 * h)
        linear = [(h, heads * head_dim), (h, kv * head_dim), (h, kv * head_dim),
                  (heads * head_dim, h), (h, inter), (h, inter), (inter, h)]
        bias = (heads + 2 * kv) * head_dim if c.get("model_type") == "qwen2" \
            or c.get("attention_bias") else 0
        block = sum(a * b for a, b in linear) + bias + 2 * h
        embed = c["vocab_size"] * h * (1 if c.get("tie_word_embeddings", True) else 2)
        dtype = c.get("torch_dtype") or c.get("dtype") or "float32"
        return cls(name=name, params=embed + layers * block + h, hidden=h, layers=layers,
                   heads=heads, vocab=c["vocab_size"], linear=linear,
                   dtype_bytes=DTYPE_BYTES.get(str(dtype), 4))


def shape(model: str) -> Shape:
    """A model's shape from its ``config.json``: a local folder or tiny model, the paper's models
    (built in), else the hub's copy."""
    from harness.resolver import skeleton

    folder = Path(skeleton(model))
    if (folder / "config.json").is_file():
        return Shape.from_config(model, json.loads((folder / "config.json").read_text()))
    if model in KNOWN:
        return Shape.from_config(model, KNOWN[model])
    try:
        from huggingface_hub import hf_hub_download

        return Shape.from_config(model, json.loads(Path(hf_hub_download(
            model, "config.json")).read_text()))
    except Exception as exc:
        raise HarnessError(f"cannot read {model}'s config.json to size it ({type(exc).__name__}); "
                           "give a local model folder or run where the hub is reachable") from None


class Calibration(BaseModel):
    """Measured/estimated ratios per model (``bench/calibrate.py --out``): a plan scales its
    estimates for those models by them, when they were measured on a GPU. A CPU's figures
    (fp32 activations, eager attention, no CUDA context) say nothing of a GPU's; a plan reads
    such a file and says it does not apply it."""

    device: str
    models: dict[str, dict[str, Any]]

    @property
    def on_gpu(self) -> bool:
        return not self.device.startswith("CPU")

    def ratio(self, model: str, what: str) -> float:
        """``memory_ratio``, ``step_ratio`` or ``decode_ratio`` for ``model`` (1: none)."""
        found = self.models.get(model) if self.on_gpu else None
        return float(found[what]) if found else 1.0

    @classmethod
    def read(cls, path: Path) -> Calibration:
        try:
            return cls.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:
            raise HarnessError(f"calibration file {path}: {str(exc).splitlines()[0]}; write it "
                               "with `python bench/calibrate.py --out FILE`") from None

    def describe(self, path: Path) -> str:
        names = ", ".join(self.models) or "no models"
        if not self.on_gpu:
            return (f"calibration {path} was measured on {self.device}: not applied (a CPU's "
                    "memory and speed say nothing of a GPU's); every figure is an estimate")
        return (f"calibrated by {path} (measured on {self.device}) for {names}: their memory "
                "and time are the estimates times the measured ratios; other models' are "
                "estimates")


class Machine(BaseModel):
    """What a plan is sized for."""

    gpus: int
    gpu_memory: float
    """GiB per GPU."""
    tflops: float = 312.0
    """Peak dense bf16 TFLOP/s per GPU (A100: 312; H100 SXM: 989)."""
    mfu: float = 0.4
    decode_mfu: float = 0.1
    jobs: int | None = None
    """Stages at once (the local executor's ``--jobs``); None: as many as the GPUs allow."""
    calibration: Calibration | None = None


class Tokens(BaseModel):
    """Token counts of one capability's split."""

    rows: int
    prompt: float
    target: float
    p99: int
    """99th percentile of prompt + target tokens: the padded length a batch reaches."""


class Estimate(BaseModel):
    node: str
    kind: str
    label: str
    model: str
    launch: str
    gpus: int
    memory_gib: float
    fits: bool
    hours: float
    """Wall-clock hours of this stage on its GPUs."""
    checkpoint_bytes: int = 0
    note: str = ""
    resources: Resources | None = None
    """The resources the stage runs with (gpus, ranks, strategy), when it fits."""

    @property
    def gpu_hours(self) -> float:
        return self.hours * max(self.gpus, 1)


def token_stats(graph: Graph, entries: dict[str, Path], count: Callable[[str], int] | None) \
        -> dict[tuple[str, str], Tokens]:
    """(capability, split) -> its token counts, from the finished data stages of one seed."""
    from harness import outputs

    out: dict[tuple[str, str], Tokens] = {}
    count = count or chars_as_tokens
    for node, spec in graph.stages.items():
        if spec.kind != "data" or node not in entries:
            continue
        cap = DataParams.of(spec).capability.name
        for split in SPLIT_FILES:
            if (cap, split) in out:
                continue
            rows = outputs.rows(entries[node], split)
            prompts = [count(r.prompt) for r in rows] or [0]
            targets = [count(r.target) for r in rows] or [0]
            totals = sorted(p + t for p, t in zip(prompts, targets))
            out[(cap, split)] = Tokens(rows=len(rows), prompt=statistics.fmean(prompts),
                                       target=statistics.fmean(targets),
                                       p99=totals[min(len(totals) - 1, int(0.99 * len(totals)))])
    return out


# ---------------------------------------------------------------- memory

def train_memory(s: Shape, *, micro: int, seq: int, shards: int, lora: dict | None,
                 checkpointing: bool, lm_head: bool = True, offload: bool = False,
                 activation_scale: float = 1.0) -> float:
    """Bytes per GPU to train ``s`` (see the module's assumptions): the larger of the forward
    and backward pass's peak (states, activations, logits) and the optimizer step's (states
    and the step's fp32 temporary, 4 bytes per trained parameter: AdamW's square root of the
    second moment). ``activation_scale`` 2 is fp32 activations, as on a CPU (no autocast)."""
    if lora is None:
        trained = s.params / shards
        states = 16 * trained
        if offload:  # weights, gradients and optimizer on the host; a layer's bf16 weights here
            states, trained = 2 * 2 * s.params / s.layers, 0
    else:
        trained = lora.get("r", 16) * s.layers * sum(a + b for a, b in s.linear)
        base = 0.55 if lora.get("quantize") == "4bit" else 2
        states = base * s.params + 16 * trained
    tokens = micro * seq
    acts = (2 * tokens * s.hidden * s.layers + 34 * tokens * s.hidden) if checkpointing \
        else 34 * tokens * s.hidden * s.layers
    logits = 10 * tokens * s.vocab if lm_head else 0
    peak = max(states + activation_scale * acts + logits, states + 4 * trained)
    return peak + OVERHEAD_GIB * GIB


def inference_memory(s: Shape, tp: int) -> float:
    """Bytes per GPU of bf16 weights split over ``tp`` ranks, with the fixed overhead."""
    return 2 * s.params / tp + OVERHEAD_GIB * GIB


# ---------------------------------------------------------------- the plan

class Sizer:
    """Estimates every stage of a graph for one machine."""

    def __init__(self, graph: Graph, tokens: dict[tuple[str, str], Tokens],
                 machine: Machine, plugins: Registry) -> None:
        self.graph, self.tokens, self.m, self.plugins = graph, tokens, machine, plugins
        self.shapes: dict[str, Shape] = {}

    def model_of(self, spec: StageSpec) -> str:
        """The base model a stage's weights start from (through chains of training)."""
        p = params_of(spec)
        for role in ("base", "model"):
            if getattr(p, role, None):
                return getattr(p, role)
            if role in spec.inputs:
                return self.model_of(self.graph.stages[spec.inputs[role]])
        return getattr(p, "strong", None) or ""

    def shape(self, model: str) -> Shape:
        if model not in self.shapes:
            self.shapes[model] = shape(model)
        return self.shapes[model]

    def _rows(self, caps, split: str) -> list[Tokens]:
        return [self.tokens[(c, split)] for c in caps if (c, split) in self.tokens]

    def _examples(self, spec: StageSpec) -> tuple[float, list[Tokens]]:
        """(how many examples, the splits they come from) of a train stage's data."""
        p = TrainParams.of(spec)
        if p.examples == "gold":
            splits = self._rows(p.capability_names(), p.split or "")
            return sum(t.rows for t in splits), splits
        source = params_of(self.graph.stages[spec.inputs.get("selected") or spec.inputs["self"]])
        splits = self._rows(source.capability_names(), "unlabeled")
        selector = getattr(source, "selector", None)
        keeps = self._footprint("selectors", selector).keeps if selector else 1.0
        return keeps * sum(t.rows for t in splits), splits

    def estimate(self, node: str) -> Estimate:
        spec = self.graph.stages[node]
        sizing = KINDS[spec.kind].sizing
        if sizing == "none" or (sizing == "select" and not spec.resources.gpus):
            return Estimate(node=node, kind=spec.kind, label=spec.label, model="", launch="cpu",
                            gpus=0, memory_gib=0, fits=True, hours=0.0)
        model = self.model_of(spec)
        s = self.shape(model)
        if sizing == "train":
            n, splits = self._examples(spec)
            fp = self._footprint("trainers", TrainParams.of(spec).trainer)
            return self._train(node, spec, s, fp, n, splits)
        if sizing == "select":  # a selector that trains a scalar-head model on the pool
            chosen = SelectParams.of(spec)
            splits = self._rows(chosen.capability_names(), "unlabeled")
            est = self._train(node, spec, s, self._footprint("selectors", chosen.selector),
                              sum(t.rows for t in splits), splits, lm_head=False)
            forward = 2 * s.params * sum(t.rows * (t.prompt + t.target) for t in splits)
            est.hours += forward / self._rate(est.gpus, self.m.mfu)
            return est  # its reward model lives in the stage's scratch: no checkpoint
        labelled = DecodeParams.of(
            self.graph.stages[spec.inputs["labels"]] if sizing == "score" else spec)
        caps = labelled.capabilities
        splits = self._rows(caps, labelled.split)
        if sizing == "score":
            prefill = sum(t.rows * (t.prompt + t.target) for t in splits)
            generated = 0.0
        else:
            budgets = [labelled.decode[c]["max_new_tokens"] for c in caps]
            prefill = sum(t.rows * t.prompt for t in splits)
            generated = sum(t.rows * min(t.target, b) for t, b in zip(splits, budgets))
        vllm = getattr(params_of(spec), "backend").name == "vllm"
        tp = 1
        usable = 0.85 * self.m.gpu_memory * GIB * (1 - KV_MIN_SHARE)
        while vllm and inference_memory(s, tp) > usable and tp * 2 <= self.m.gpus \
                and s.heads % (tp * 2) == 0:
            tp *= 2
        memory = inference_memory(s, tp)
        fits = memory <= usable
        hours = self._scaled(s.name, "decode_ratio") * (
            2 * s.params * prefill / self._rate(tp, self.m.mfu)
            + 2 * s.params * generated / self._rate(tp, self.m.decode_mfu))
        return Estimate(node=node, kind=spec.kind, label=spec.label, model=model,
                        launch=f"vllm tp={tp}" if vllm else "1 GPU", gpus=tp,
                        memory_gib=memory / GIB, fits=fits, hours=hours,
                        note="" if fits else "does not fit: use more GPUs (tensor parallel)",
                        resources=spec.resources.model_copy(update={"gpus": tp})
                        if fits else None)

    def _scaled(self, model: str, what: str) -> float:
        """The calibration's measured/estimated ``what`` for ``model``; 1 without one."""
        return self.m.calibration.ratio(model, what) if self.m.calibration else 1.0

    def _rate(self, gpus: int, mfu: float) -> float:
        """FLOPs per hour of ``gpus`` GPUs at ``mfu``."""
        return max(gpus, 1) * self.m.tflops * 1e12 * mfu * 3600

    def _footprint(self, kind: str, plugin: Ref) -> Footprint:
        """What the plugin says about its run (``harness.footprint``): sizing reads no
        plugin's params itself."""
        return footprint_of(self.plugins.make(kind, plugin.name, plugin.params))

    def _train(self, node: str, spec: StageSpec, s: Shape, fp: Footprint, n: float,
               splits: list[Tokens], lm_head: bool = True) -> Estimate:
        micro, batch = fp.micro_batch_size, fp.batch_size
        lora = {"r": fp.lora_rank, "quantize": "4bit" if fp.quantized else "none"} \
            if fp.lora_rank else None
        ckpt = fp.gradient_checkpointing
        seq = min(max((t.p99 for t in splits), default=512), fp.max_length)
        per_example = (sum(t.rows * (t.prompt + t.target) for t in splits)
                       / max(1, sum(t.rows for t in splits)))
        processed = fp.max_steps * batch if fp.max_steps else fp.epochs * n
        flops = (4 if lora else 6) * s.params * processed * per_example
        res = spec.resources
        need = res.strategy != "auto" or res.ranks > 1

        def memory(shards: int, strategy: str) -> float:
            return self._scaled(s.name, "memory_ratio") * train_memory(
                s, micro=micro, seq=seq, shards=shards if strategy in SHARDED else 1,
                lora=lora, checkpointing=ckpt or strategy.startswith("fsdp"),
                lm_head=lm_head, offload=strategy == "fsdp-offload")

        options: list[tuple[str, int]] = []
        if need:  # the suite chose: size exactly that
            ranks = max(res.ranks, res.gpus, 1)
            options = [(res.strategy if res.strategy != "auto" else "ddp", ranks)]
        else:
            options = [("single", 1)] + [("fsdp", k) for k in range(2, self.m.gpus + 1)
                                         if batch % (micro * k) == 0]
        for strategy, gpus in options:
            mem = memory(gpus, strategy)
            if mem <= self.m.gpu_memory * GIB and gpus <= max(self.m.gpus, 1):
                recompute = 2 * s.params * processed * per_example if strategy == "fsdp" \
                    or ckpt else 0
                return Estimate(
                    node=node, kind=spec.kind, label=spec.label, model=s.name,
                    launch=("LoRA, " if lora else "") + (
                        "1 GPU" if strategy == "single" else f"{strategy} x{gpus}"),
                    gpus=gpus, memory_gib=mem / GIB, fits=True,
                    hours=self._scaled(s.name, "step_ratio") * (flops + recompute)
                    / self._rate(gpus, self.m.mfu),
                    checkpoint_bytes=s.params * s.dtype_bytes if lm_head else 0,
                    resources=res.model_copy(update={"gpus": gpus, "ranks": gpus,
                                                     "strategy": strategy}))
        strategy, gpus = options[-1]
        where = "train" if spec.kind == "train" else "selector"
        fix = "use more GPUs" if lora else f"use LoRA ({where} params lora: {{}}) or more GPUs"
        if not need and len(options) == 1 and self.m.gpus > 1:
            fix = (f"no count of GPUs up to {self.m.gpus} splits batch_size {batch} exactly "
                   f"into micro-batches of {micro}: lower micro_batch_size, or {fix}")
        return Estimate(node=node, kind=spec.kind, label=spec.label, model=s.name,
                        launch=("LoRA, " if lora else "full, ") + (
                            "1 GPU" if gpus == 1 else f"{strategy} x{gpus}"), gpus=gpus,
                        memory_gib=memory(gpus, strategy) / GIB, fits=False,
                        hours=flops / self._rate(gpus, self.m.mfu),
                        checkpoint_bytes=s.params * s.dtype_bytes if lm_head else 0,
                        note=f"does not fit on {self.m.gpus} x {self.m.gpu_memory:g} GiB: {fix}")

    def all(self) -> dict[str, Estimate]:
        return {node: self.estimate(node) for node in self.graph.stages}


class Clock(Executor):
    """An executor that runs nothing: each stage it is given takes its estimated hours on a
    clock, with the GPUs (and job slots) of ``machine``. ``schedule`` hands it to the
    scheduler, so the plan's wall-clock comes from the very policy a run follows."""

    name = "clock"

    def __init__(self, est: dict[str, Estimate], machine: Machine) -> None:
        self.est = est
        self.capacity, self.slots = max(machine.gpus, 1), machine.jobs or 10**9
        self.free, self.now = self.capacity, 0.0
        self.running: list[tuple[float, str, Job, int]] = []
        self.finished: list[Outcome] = []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def _need(self, spec: StageSpec) -> int:
        return min(self.est[spec.id].gpus, self.capacity)

    def can_take(self, spec: StageSpec) -> bool:
        need = self._need(spec)
        return not need or (need <= self.free and len(self.running) < self.slots)

    def submit(self, job: Job) -> None:
        need = self._need(job.spec)
        if not need:  # a CPU stage: done at once, as the estimate has it
            self.finished.append(self._outcome(job))
            return
        heapq.heappush(self.running, (self.now + self.est[job.spec.id].hours, job.spec.id,
                                      job, need))
        self.free -= need

    def wait(self) -> list[Outcome]:
        if not self.finished:
            self.now, _, job, need = heapq.heappop(self.running)
            self.free += need
            self.finished.append(self._outcome(job))
        done, self.finished = self.finished, []
        return done

    def _outcome(self, job: Job) -> Outcome:
        return Outcome.of(job.spec, key=job.key, digest=job.key, started=self.now,
                          finished=self.now)


def schedule(graph: Graph, est: dict[str, Estimate], machine: Machine) -> float:
    """Wall-clock hours of the graph on ``machine``: the scheduler's own policy (ready stages
    start in planned order whenever GPUs and a job slot are free) run on a ``Clock``, with an
    empty store, so every stage counts."""
    clock = Clock(est, machine)
    with tempfile.TemporaryDirectory(prefix="harness-plan-") as tmp, \
            contextlib.redirect_stderr(io.StringIO()):  # the scheduler's status lines
        run_graph(clock, graph, Store(Path(tmp)), set(), Path(tmp))
    return clock.now


def critical_path(graph: Graph, est: dict[str, Estimate]) -> float:
    """Hours of the longest chain of dependent stages: no amount of GPUs finishes sooner."""
    finish: dict[str, float] = {}
    for node, spec in graph.stages.items():
        finish[node] = max((finish[u] for u in spec.inputs.values()), default=0.0) \
            + est[node].hours
    return max(finish.values(), default=0.0)


def size(graph: Graph, entries: dict[str, Path], machine: Machine, tokenizer_of: str,
         plugins: Registry) -> dict[str, Estimate]:
    """Every stage's estimate, token counts from the data (``entries``: the data stages' cache
    entries, which the caller has run) with ``tokenizer_of``'s tokenizer; each trainer and
    selector is made from ``plugins`` to say its footprint."""
    tokens = token_stats(graph, entries, counter(tokenizer_of))
    return Sizer(graph, tokens, machine, plugins).all()


def fit(graph: Graph, est: dict[str, Estimate]) -> Graph:
    """The graph with each stage's sized resources (launch, GPUs, ranks); refuses, before any
    compute, a stage that cannot fit, naming the fix."""
    for e in est.values():
        if not e.fits:
            raise HarnessError(f"{e.label}: {e.note} (see `harness plan`)")
    stages = {n: s.model_copy(update={"resources": est[n].resources})
              if est[n].resources is not None else s for n, s in graph.stages.items()}
    return graph.model_copy(update={"stages": stages})
