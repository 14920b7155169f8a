"""Measures of a training set and of two models' answers, reported beside every result.

Diversity has two measures, since each alone misleads: distinct-n (unique n-grams over all
n-grams; falls as a set grows) and the compression ratio (raw bytes over zlib bytes; rises as
text repeats itself, and is less sensitive to set size). Both are over whitespace tokens of
prompt plus label, the text the strong model trains on.
"""

from __future__ import annotations

import zlib
from statistics import fmean


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique word n-grams over all word n-grams in the set (1.0: nothing repeats)."""
    grams = [tuple(words[i : i + n]) for t in texts for words in [t.split()]
             for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def compression_ratio(texts: list[str]) -> float:
    """Bytes of the set over its zlib-compressed bytes (higher: more repetitive, less diverse)."""
    raw = "\n".join(texts).encode()
    return len(raw) / len(zlib.compress(raw, 9)) if raw else 0.0


def agreement(a: list[str | None], b: list[str | None]) -> float:
    """Share of items where two answer lists give the same (readable) answer."""
    return fmean(x is not None and x == y for x, y in zip(a, b)) if a else 0.0


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """How well a score ranks positives above negatives: the share of (positive, negative)
    pairs it orders right, ties counting half (the area under the ROC curve); None without
    both kinds."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))
