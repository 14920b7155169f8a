"""Answer extraction shared by capabilities: the parts of scoring that are not dataset-specific."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?")


def normalize_words(text: str) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation."""
    return " ".join(text.strip().strip(".!?;:,\"'").lower().split())


def last_number(text: str) -> float | None:
    """The last number in ``text`` (``####`` answers first), tolerant of commas, $ and decimals."""
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    found = _NUMBER.findall(text)
    if not found:
        return None
    raw = found[-1].replace(",", "").replace("$", "").replace(" ", "")
    try:
        return float(raw)
    except ValueError:
        return None
