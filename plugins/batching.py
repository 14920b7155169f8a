"""Token batches shared by training, reward models and scoring: prompt-answer pairs tokenized
one way everywhere, and right-padded into tensors."""

from __future__ import annotations

from harness import TrainExample


def encode(tok, data: list[TrainExample], max_length: int) -> list[dict]:
    """Prompt and answer tokenized apart, so decoding sees exactly the training prompt ids."""
    rows = []
    for ex in data:
        prompt = tok(ex.prompt)["input_ids"]
        answer = tok(ex.target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = (prompt + answer)[:max_length]
        labels = ([-100] * len(prompt) + answer)[:max_length]
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def pad_right(seqs: list[list[int]], value: int):
    """A ``len(seqs) x longest`` long tensor, each row padded on the right with ``value``."""
    import torch

    width = max(map(len, seqs))
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs], dtype=torch.long)


def attention_mask(seqs: list[list[int]]):
    """1 over each sequence's own tokens, 0 over its right padding."""
    return pad_right([[1] * len(s) for s in seqs], 0)
