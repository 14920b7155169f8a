"""Right-padding token batches into tensors: shared by training, reward models and scoring."""

from __future__ import annotations


def pad_right(seqs: list[list[int]], value: int):
    """A ``len(seqs) x longest`` long tensor, each row padded on the right with ``value``."""
    import torch

    width = max(map(len, seqs))
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs], dtype=torch.long)


def attention_mask(seqs: list[list[int]]):
    """1 over each sequence's own tokens, 0 over its right padding."""
    return pad_right([[1] * len(s) for s in seqs], 0)
