"""Answer extraction shared by capabilities: reading an answer out of free-form completions.

Models do not answer in a fixed format ("B", "(B) paris", "The answer is B.", "Paris."), so each
extractor accepts the common forms and returns None when it cannot tell, which scores 0.
"""

from __future__ import annotations

import re

LETTERS = "ABCDEFGH"

_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*:?\s*\(?\s*([A-H])\s*\)?(?![A-Za-z])", re.I)
_LEADING_LETTER = re.compile(r"^\s*\(?([A-H])(?:\)|\.|:|$)")
_PAREN_LETTER = re.compile(r"\(([A-H])\)")


def normalize_words(text: str) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation."""
    return " ".join(text.strip().strip(".!?;:,\"'()").lower().split())


def to_number(text: str) -> float | None:
    raw = text.replace(",", "").replace("$", "")
    try:
        return float(raw)
    except ValueError:
        return None


def last_number(text: str) -> float | None:
    """The answer number: after the last ``####`` if any, else after "answer is", else the last.

    Commas, a currency sign, a minus sign and decimals are understood; "3.0" equals "3".
    """
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    else:
        m = re.search(r"answer is\s*:?\s*(.*)", text, re.I | re.S)
        if m and _NUMBER.search(m.group(1)):
            found = _NUMBER.search(m.group(1))
            return to_number(found.group(0)) if found else None
    found = _NUMBER.findall(text)
    return to_number(found[-1].rstrip(".")) if found else None


def canonical_number(value: float | None) -> str | None:
    """One spelling per number, so "3", "3.0" and "$3" compare equal as strings."""
    if value is None:
        return None
    return str(int(value)) if value == int(value) else repr(value)


def number_answer(completion: str) -> str | None:
    """The completion's answer number in canonical form."""
    return canonical_number(last_number(completion))


def option_answer(completion: str, choices: list[str]) -> str | None:
    """The chosen option's letter, or None."""
    index = choose_option(completion, choices)
    return None if index is None else LETTERS[index]


def choose_option(completion: str, choices: list[str]) -> int | None:
    """Index of the chosen option: by letter ("answer is (B)", a leading "B."), else by text."""
    letters = LETTERS[: len(choices)]
    for pattern in (_ANSWER_IS, _LEADING_LETTER):
        m = pattern.search(completion)
        if m and m.group(1).upper() in letters:
            return letters.index(m.group(1).upper())
    head = re.split(r"\bexplanation\b", completion, maxsplit=1, flags=re.I)[0]
    said = normalize_words(head)
    exact = [i for i, c in enumerate(choices) if normalize_words(c) == said]
    if exact:
        return exact[0]
    mentioned = [
        i for i, c in enumerate(choices)
        if re.search(rf"(?<!\w){re.escape(normalize_words(c))}(?!\w)", said)
    ]
    # One option named is an answer; several are a comparison we cannot read.
    longest = [i for i in mentioned
               if not any(j != i and normalize_words(choices[i]) in normalize_words(choices[j])
                          for j in mentioned)]
    if len(longest) == 1:
        return longest[0]
    m = _PAREN_LETTER.findall(completion)
    if m and m[-1] in letters:
        return letters.index(m[-1])
    return None


def first_label(completion: str, synonyms: dict[str, str]) -> str | None:
    """The earliest label word in the completion, mapped through ``synonyms`` (word -> label)."""
    words = re.findall(r"[a-z]+", completion.lower())
    for w in words:
        if w in synonyms:
            return synonyms[w]
    return None
