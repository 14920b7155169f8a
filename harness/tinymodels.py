"""Tiny Qwen2-architecture models built locally, so everything runs offline on a CPU.

The tokenizer is a byte-level BPE trained here on the offline capabilities' text, with exactly
the normaliser and pre-tokeniser rules of transformers' ``Qwen2Tokenizer``: the folder loads as a
Qwen2 tokenizer (as transformers and vLLM both load it) with the ids it was trained with.

Both are pretrained briefly (causal LM on every token) on background text of the offline
capabilities, as real LLMs are pretrained before weak-to-strong fine-tuning: what each single
SCAN phrase means, and the sums and differences the arithmetic problems use. The tasks
themselves (composing phrases, word problems) are never in that text. The strong model's
advantage is real: about 4x the parameters (1.1M vs 0.26M: width 128 x 4 layers vs 96 x 2)
and more pretraining (400 vs 150 steps).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pydantic import BaseModel

from harness import converted
from harness.converted import CONVERTED
from harness.errors import HarnessError
from harness.store import content_key, home

CORPUS_CAPABILITIES = ("synth_scan", "synth_arith")
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


TINY: dict[str, TinySpec] = {
    "tiny-weak": TinySpec(
        hidden_size=96, num_hidden_layers=2, num_attention_heads=3, intermediate_size=256,
        pretrain_steps=150,
    ),
    "tiny-strong": TinySpec(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512,
        pretrain_steps=400,
    ),
}


def model_identity(name: str) -> str:
    """What goes into cache keys: hub ids and paths as given, tiny names with their spec,
    converted models with the digest of the file they come from."""
    if name in TINY:
        return f"{name}@{content_key([TINY[name].model_dump(), VOCAB_SIZE, CORPUS_CAPABILITIES])}"
    if name in CONVERTED:
        return converted.identity(name)
    return name


def built_here(name: str) -> bool:
    """A model this project builds (tiny) or converts (from a registry's file) locally."""
    return name in TINY or name in CONVERTED


def models_dir() -> Path:
    """``$HARNESS_MODELS``, else ``$HARNESS_HOME/models``: several homes may share models."""
    env = os.environ.get("HARNESS_MODELS")
    return Path(env).resolve() if env else home() / "models"


def check(name: str) -> None:
    """Fail before any compute when a model named by a local path is not there."""
    if name in CONVERTED:
        converted.gguf_path(name)
    if not built_here(name) and name.startswith(("/", ".", "~")):
        if not Path(name).expanduser().exists():
            raise HarnessError(
                f"model path {name} does not exist; give an existing folder, a hub id, "
                f"or one of {', '.join(TINY)}"
            )


def resolve(name: str) -> str:
    """A tiny or converted model's local folder (built on first use); a hub id or local path
    as given."""
    check(name)
    if built_here(name):
        path = models_dir() / model_identity(name).replace("@", "-")
        if not (path / "config.json").exists():
            (build if name in TINY else converted.build)(name, path)
        return str(path)
    return str(Path(name).expanduser()) if name.startswith("~") else name


def build(name: str, path: Path) -> Path:
    """Train the tokenizer and write a freshly initialised model folder atomically."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from harness.progress import say

    spec = TINY[name]
    say(f"building tiny model {name} in {path}")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok = train_tokenizer()
    tok.save_pretrained(str(tmp))
    torch.manual_seed(spec.seed)
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
    Qwen2ForCausalLM(config).save_pretrained(str(tmp), safe_serialization=True)
    if spec.pretrain_steps:
        pretrain(name, spec, tmp)
    (tmp / "tiny.json").write_text(json.dumps({"name": name, **spec.model_dump()}, indent=1))
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
    return path


def corpus_capabilities():
    from harness.plugins import registry

    return [registry().make("capabilities", name) for name in CORPUS_CAPABILITIES]


def pretrain(name: str, spec: TinySpec, folder: Path) -> None:
    """Causal-LM pretraining on background text, with the sft trainer and an empty prompt."""
    from harness.bases import TrainContext, TrainExample
    from harness.plugins import registry

    texts = [t for cap in corpus_capabilities() for t in cap.corpus()]
    trainer = registry().make("trainers", "sft", {
        "max_steps": spec.pretrain_steps, "lr": spec.pretrain_lr, "batch_size": 40,
        "micro_batch_size": 40, "warmup_ratio": 0.05,
    })
    work = folder / "pretrain-work"
    trainer.train(str(folder), [TrainExample(prompt="", target=t) for t in texts], folder,
                  TrainContext(seed=spec.seed, work_dir=work, progress_label=f"pretrain {name}"))
    shutil.rmtree(work, ignore_errors=True)


def train_tokenizer():
    """Byte-level BPE over the offline capabilities' text, saved as a Qwen2 tokenizer."""
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
    texts = []
    for cap in corpus_capabilities():
        texts.extend(cap.corpus())
        for rows in cap.pools(None, 0).values():
            texts.extend(r.prompt + r.target + "\n" for r in rows)
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    return Qwen2Tokenizer(vocab=state["vocab"], merges=merges)
