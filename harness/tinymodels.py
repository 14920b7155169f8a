"""Tiny Qwen2-architecture models built locally, so everything runs offline on a CPU.

The tokenizer is a byte-level BPE trained here on the text of the capabilities a model is
pretrained for, with exactly the normaliser and pre-tokeniser rules of transformers'
``Qwen2Tokenizer``: the folder loads as a Qwen2 tokenizer (as transformers and vLLM both load
it) with the ids it was trained with.

Every model is pretrained briefly (causal LM on every token) on background text of its
capabilities (``Capability.corpus()``), as real LLMs are pretrained before weak-to-strong
fine-tuning. Two pairs:

- ``tiny-weak`` / ``tiny-strong``, the plumbing pair: what each single SCAN phrase means, and
  the sums and differences the arithmetic problems use; the tasks themselves (composing
  phrases, word problems) are never in that text. 4x the parameters (1.1M vs 0.26M) and more
  pretraining (400 vs 150 steps) make the strong one stronger, but neither holds the tasks,
  so weak labels have nothing to elicit: W2S is at or below zero there.
- ``testbed-weak`` / ``testbed-strong``, the testbed where W2S is real (``plugins/capabilities/
  facts.py``): the strong model is pretrained on every fact of the fact capabilities, stated
  plainly, a few to a line; their questions ask in another wording and start the answer in
  this one. The weak one, smaller, reads a seeded share of the facts, so its errors fall on
  facts the strong model knows.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from harness.store import content_key

PLUMBING = ("synth_scan", "synth_arith")
TESTBED = ("fact_sum", "fact_city")
VOCAB_SIZE = 640
EOS = "<|endoftext|>"
QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


class TinySpec(BaseModel):
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 4096
    seed: int = 0
    pretrain_steps: int = 0
    pretrain_lr: float = 3e-3
    corpus: tuple[str, ...] = PLUMBING
    """The capabilities whose background text trains the tokenizer and pretrains the model."""
    corpus_share: float = Field(1.0, gt=0, le=1)
    """The seeded share of each capability's background sentences the model is pretrained on:
    a weak model that never saw some facts errs on exactly those."""
    document: int = Field(1, ge=1)
    """Sentences per pretraining line, drawn at random from every capability (each sentence
    once per pass, in ``passes`` shuffles): a fact seen amid unrelated text is a fact the model
    recalls after any prompt, not only at the start of a line."""
    passes: int = Field(1, ge=1)
    per_seed: bool = False
    """The run's seed is the model's pretraining seed (its initialisation, its share of the
    text and the order of its lines): each seed of a suite gets its own model, built once, so
    the variation over seeds includes pretraining and not only the splits (``seeded``)."""


TINY: dict[str, TinySpec] = {
    "tiny-weak": TinySpec(
        hidden_size=96, num_hidden_layers=2, num_attention_heads=3, intermediate_size=256,
        pretrain_steps=150,
    ),
    "tiny-strong": TinySpec(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512,
        pretrain_steps=400,
    ),
    "testbed-weak": TinySpec(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
        pretrain_steps=1200, corpus=TESTBED, corpus_share=0.6, document=4, passes=3,
        per_seed=True,
    ),
    "testbed-strong": TinySpec(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512,
        pretrain_steps=800, corpus=TESTBED, document=4, passes=3, per_seed=True,
    ),
}
SEEDED = "#"
"""``testbed-strong#2``: the model ``testbed-strong`` pretrained with seed 2."""


def seeded(name: str, seed: int) -> str:
    """The model a run's ``seed`` uses for ``name``: a per-seed tiny model's seeded copy, any
    other model as named."""
    spec = TINY.get(name)
    return f"{name}{SEEDED}{seed}" if spec is not None and spec.per_seed else name


def tiny_spec(name: str) -> TinySpec | None:
    """The spec of a tiny model name (``testbed-strong#2`` is ``testbed-strong`` with seed 2),
    or None for any other name."""
    base, _, seed = name.partition(SEEDED)
    spec = TINY.get(base)
    if spec is None or (seed and not (spec.per_seed and seed.isdigit())):
        return None
    return spec.model_copy(update={"seed": int(seed)}) if seed else spec


def build(name: str, path: Path, weights: bool = True) -> Path:
    """Train the tokenizer and write a freshly initialised (and pretrained) model folder
    atomically; without ``weights``, only the tokenizer and config (a skeleton: what sizing
    and token counts read, in seconds instead of a pretraining's minutes)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from harness.progress import say

    spec = tiny_spec(name)
    assert spec is not None, name
    say(f"building tiny model {name}{'' if weights else ' (config and tokenizer)'} in {path}")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok = train_tokenizer(spec.corpus)
    tok.save_pretrained(str(tmp))
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    if weights:
        torch.manual_seed(spec.seed)
        Qwen2ForCausalLM(config).save_pretrained(str(tmp), safe_serialization=True)
        if spec.pretrain_steps:
            pretrain(name, spec, tmp)
        (tmp / "tiny.json").write_text(json.dumps({"name": name, **spec.model_dump()}, indent=1))
    else:
        config.save_pretrained(str(tmp))
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
    return path


@lru_cache(maxsize=None)
def sources(corpus: tuple[str, ...]) -> str:
    """A digest of the source of the modules defining ``corpus``'s capabilities, which make
    the model's text: part of its identity, so editing one rebuilds the model."""
    import inspect
    import sys

    from harness.plugins import registry

    modules = sorted({registry().get("capabilities", name).cls.__module__ for name in corpus})
    return content_key([inspect.getsource(sys.modules[m]) for m in modules])


def texts(corpus: tuple[str, ...]) -> tuple[list[list[str]], list[str]]:
    """Each capability's background sentences, and the tokenizer's training text (those and
    every prompt and target)."""
    from harness.plugins import registry

    background, tokenizer = [], []
    for name in corpus:
        cap = registry().make("capabilities", name)
        background.append(cap.corpus())  # type: ignore[attr-defined]
        tokenizer.extend(cap.corpus())  # type: ignore[attr-defined]
        for rows in cap.pools(None, 0).values():  # type: ignore[attr-defined]
            tokenizer.extend(r.prompt + r.target + "\n" for r in rows)
    return background, tokenizer


def pretrain(name: str, spec: TinySpec, folder: Path) -> None:
    """Causal-LM pretraining on background text, with the sft trainer and an empty prompt."""
    from harness.bases import TrainContext, TrainExample
    from harness.plugins import registry

    rng = random.Random(spec.seed)
    seen = [t for sentences in texts(spec.corpus)[0]
            for t in rng.sample(sentences, round(spec.corpus_share * len(sentences)))]
    lines = []
    for _ in range(spec.passes):
        order = rng.sample(seen, len(seen))
        lines += [" ".join(order[i:i + spec.document]) for i in range(0, len(order), spec.document)]
    trainer = registry().make("trainers", "sft", {
        "max_steps": spec.pretrain_steps, "lr": spec.pretrain_lr, "batch_size": 40,
        "micro_batch_size": 40, "warmup_ratio": 0.05,
    })
    work = folder / "pretrain-work"
    trainer.train(str(folder), [TrainExample(prompt="", target=t) for t in lines], folder,
                  TrainContext(seed=spec.seed, work_dir=work, progress_label=f"pretrain {name}"))
    shutil.rmtree(work, ignore_errors=True)


def train_tokenizer(corpus: tuple[str, ...]):
    """Byte-level BPE over ``corpus``'s text, saved as a Qwen2 tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts(corpus)[1], trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    return Qwen2Tokenizer(vocab=state["vocab"], merges=merges)
