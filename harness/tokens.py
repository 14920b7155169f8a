"""What a model's files on disk say about text: its token counts and its context length.

Read only from a folder, a model built here or the Hugging Face cache, never downloaded, so
the preflight checks and `harness plan` run anywhere; without the files, a count falls back
to ``CHARS_PER_TOKEN`` characters a token.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

CHARS_PER_TOKEN = 4.0


def chars_as_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def on_disk(model: str, filename: str) -> Path | None:
    """``filename`` of ``model`` when it is on disk (a local folder, a model built here, or
    the hub's local cache), else None: nothing is downloaded for it."""
    from harness.resolver import skeleton

    path = Path(skeleton(model)) / filename
    if path.is_file():
        return path
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, filename)
    except Exception:  # not a hub id
        cached = None
    return Path(cached) if isinstance(cached, str) else None


def counter(model: str) -> Callable[[str], int] | None:
    """Token counting with ``model``'s ``tokenizer.json`` when it is on disk, else None."""
    path = on_disk(model, "tokenizer.json")
    if path is None:
        return None
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def context_length(model: str) -> int | None:
    """The longest input ``model``'s config allows, when its config is on disk, else None."""
    path = on_disk(model, "config.json")
    if path is None:
        return None
    config = json.loads(path.read_text())
    config = {**config.get("text_config", {}), **config}
    return next((int(config[k]) for k in CONTEXT_KEYS if isinstance(config.get(k), int)), None)
