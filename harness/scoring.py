"""Readers shared by capabilities: the answer in a free-form completion, or None.

Models do not answer in a fixed format ("B", "(B) paris", "The answer is B.", "Paris.",
"#### 25 pens"), so each reader accepts the common forms and returns None when it cannot tell,
which scores 0. Their rules are in their docstrings; ``harness.extract`` composes them into
each capability's extraction pipeline.
"""

from __future__ import annotations

import re
from typing import Literal

LETTERS = "ABCDEFGH"

NUMBER = re.compile(r"-?\$?(?:\d[\d,]*(?:\.\d+)?|\.\d+)")
"""A number as written: sign, currency, thousands commas, decimals (".5" too)."""
_MARKER = re.compile(r"####|\banswer\s+is\b|\banswer\s*:", re.I)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\n")
_LETTER = r"(?:\(([A-Ha-h])\)|([A-Ha-h])(?=\s*(?:[.):,;]|$))|([A-H])(?=\s))"
"""A letter in parentheses, or bare before punctuation or the end (unambiguous), or an
upper-case letter before a word (group 3: maybe the article "A")."""
_ANSWER_IS = re.compile(r"[Aa]nswer\s*(?:[Ii][Ss]|:)\s*:?\s*" + _LETTER)
_LEADING_LETTER = re.compile(r"^\s*" + _LETTER)
_PAREN_LETTER = re.compile(r"\(([A-H])\)")
_NEGATION = {"not", "never", "no", "neither", "nor", "without"}


def normalize_words(text: str) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation."""
    return " ".join(text.strip().strip(".!?;:,\"'()").lower().split())


def to_number(text: str) -> float | None:
    raw = text.replace(",", "").replace("$", "")
    try:
        return float(raw)
    except ValueError:
        return None


def canonical_number(value: float | None) -> str | None:
    """One spelling per number, so "3", "3.0" and "$3" compare equal as strings."""
    if value is None:
        return None
    return str(int(value)) if value == int(value) else repr(value)


_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6}
_WORD = "|".join([*_UNITS, *_TENS, *_SCALES])
NUMBER_WORDS = re.compile(rf"\b(?:{_WORD})(?:(?:\s+|-|\s+and\s+)(?:{_WORD}))*\b", re.I)
"""A number written in words: "eighteen", "twenty-five", "one hundred and five"."""
_HEDGE = re.compile(r"^\s*(?:,\s*)?(?:or|and/or)\s+(?:maybe\s+|perhaps\s+)?\$?\d", re.I)


def word_number(text: str) -> float | None:
    """The value of a number written in words ("twenty-five", "one hundred and five")."""
    total, current = 0, 0
    for w in re.split(r"[\s-]+", text.lower()):
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _SCALES:
            total, current = total + max(current, 1) * _SCALES[w], 0
        elif w != "and":
            return None
    return float(total + current)


def _numbers(text: str) -> list[tuple[re.Match, float | None]]:
    """Each number in ``text`` with its value: in digits, or in words where it has no digits
    (so "one of the 5 boxes" reads 5, and "eighteen dollars" reads 18)."""
    found = [(m, to_number(m.group())) for m in NUMBER.finditer(text)]
    if found:
        return found
    return [(m, word_number(m.group())) for m in NUMBER_WORDS.finditer(text)]


def _answer(text: str, found: list[tuple[re.Match, float | None]], pick: int) -> float | None:
    """``found[pick]``'s value, or None when it is hedged: joined by "or" ("to") to another
    number ("18 or 9", "#### 3 or 4", "5, or maybe 6"), which states no one answer; a range
    ("from 10 to 15") is not a hedge, its last number is read as before."""
    if not found:
        return None
    match, value = found[pick]
    after = text[match.end():]
    before = text[: match.start()]
    if _HEDGE.match(after) or re.search(r"\d\s*(?:,\s*)?(?:or|and/or)\s+(?:maybe\s+|perhaps\s+)?\$?$", before):
        return None
    return value


def marked_number(text: str, markers: re.Pattern = _MARKER) -> float | None:
    """The number stated after the *last* answer marker (``####``, "answer is", "answer:").

    Only the marker's sentence is read (up to ". " or a line break), so a restated quantity, a
    unit in parentheses or a check line after it is not taken; and the last marker wins, so a
    self-correction ("the answer is 12. Wait... the answer is 14.") reads as its final answer.
    In that sentence, working ("40 - 15 = 25 pens, so 25 x 4 = 100") gives the number after
    the last "=", else the first number is the answer. No number in the sentence: the first
    number after the marker. No marker: None. A number may be written in words where the
    sentence has none in digits ("the answer is eighteen dollars" is 18). A hedged answer,
    two numbers joined by "or" ("the answer is 18 or 9", "#### 3 or 4"), is no answer.
    """
    found = list(markers.finditer(text))
    if not found:
        return None
    rest = text[found[-1].end():]
    if not _numbers(rest):
        # A marker with nothing after it: a repetition cut by the budget ("The answer is 10.
        # The answer is 10. The answer is"): the last marker that states a number speaks.
        stated = [m for m in found if _numbers(text[m.end():m.end() + 80])]
        if not stated:
            return None
        rest = text[stated[-1].end():]
    sentence = _SENTENCE_END.split(rest.lstrip(" :\t"), maxsplit=1)[0]
    if "=" in sentence:
        after = sentence.rsplit("=", 1)[1]
        worked = _numbers(after)
        if worked:
            return _answer(after, worked, 0)
    numbers = _numbers(sentence)
    return _answer(sentence, numbers, 0) if numbers else _answer(rest, _numbers(rest), 0)


def last_number(text: str) -> float | None:
    """The number after the last answer marker (``marked_number``), else the last number in
    the text (as lm-evaluation-harness's flexible filter reads it).

    Commas, a currency sign, a minus sign and decimals are understood; "3.0" equals "3"; a text
    without digits is read in words. A marked answer that is hedged ("18 or 9") is no answer,
    and so is a hedged last number.
    """
    if _MARKER.search(text):
        return marked_number(text)
    return _answer(text, _numbers(text), -1)


def number_answer(completion: str) -> str | None:
    """The completion's answer number in canonical form."""
    return canonical_number(last_number(completion))


Conflict = Literal["none", "letter", "text"]


def option_answer(completion: str, choices: list[str], conflict: Conflict = "none") -> str | None:
    """The chosen option's letter, or None."""
    index = choose_option(completion, choices, conflict)
    return None if index is None else LETTERS[index]


def choose_option(completion: str, choices: list[str], conflict: Conflict = "none") -> int | None:
    """Index of the chosen option, or None.

    - **By letter**: after "answer is" / "answer:" (an upper-case letter, or any letter in
      parentheses: "The answer is a tree" is an article, not option A), or leading the
      completion ("B", "(b)", "b.", "B. paris"). A completion that is just a letter, in either
      case, is that letter. An upper-case letter before a word counts only when the words
      are an option's text ("B paris"); "A" before an option's text is the article.
    - **Letter and text disagree** ("(B) paris" where paris is option A, word for word): the
      completion contradicts itself; ``conflict`` says what counts: ``none`` (no answer, the
      default: crediting either half would reward a guess), ``letter`` or ``text``.
    - **By text**, when no letter is given: the option the completion states exactly (before
      any "explanation"), else the one option it mentions (the longest, when one option's
      text contains another's); several mentioned is a comparison, not an answer.
    - Last, a lone "(C)" anywhere.
    """
    letters = LETTERS[: len(choices)]
    for pattern in (_ANSWER_IS, _LEADING_LETTER):
        m = pattern.search(completion)
        if not m:
            continue
        letter = next(g for g in m.groups() if g).upper()
        said = _stated_option(completion[m.end():], choices)
        if m.group(3) and (said is None or letter == "A"):
            if said is not None:  # "A tree", tree being an option: the article, then the text
                return said
            continue  # "A person would say lyon": a word, not a letter
        if letter not in letters:
            return None
        index = letters.index(letter)
        if said is None or said == index or conflict == "letter":
            return index
        return said if conflict == "text" else None
    by_text = _stated_option(completion, choices)
    if by_text is not None:
        return by_text
    mentioned = _mentioned_option(completion, choices)
    if mentioned is not None:
        return mentioned
    m = _PAREN_LETTER.findall(completion)
    if m and m[-1] in letters:
        return letters.index(m[-1])
    return None


def _head(text: str) -> str:
    """The answer part of a completion: before an explanation or a line break."""
    head = re.split(r"\bexplanation\b|\bbecause\b|\n", text, maxsplit=1, flags=re.I)[0]
    return normalize_words(head)


def _stated_option(text: str, choices: list[str]) -> int | None:
    """The option whose text the completion's answer part is, word for word."""
    said = _head(text)
    exact = [i for i, c in enumerate(choices) if normalize_words(c) == said]
    return exact[0] if exact else None


def _mentioned_option(text: str, choices: list[str]) -> int | None:
    said = _head(text)
    mentioned = [i for i, c in enumerate(choices)
                 if re.search(rf"(?<!\w){re.escape(normalize_words(c))}(?!\w)", said)]
    longest = [i for i in mentioned
               if not any(j != i and normalize_words(choices[i]) in normalize_words(choices[j])
                          for j in mentioned)]
    return longest[0] if len(longest) == 1 else None


def first_label(completion: str, synonyms: dict[str, str]) -> str | None:
    """The label the completion states, through ``synonyms`` (word -> label), or None.

    The first label word that is not negated wins. A label word is negated when a negation
    ("not", "never", "no", "isn't", ...) is one of the two words before it, or when it is
    joined by "or"/"nor" to a negated one ("does not entail or contradict"). A negated label
    is ruled out, not stated: when nothing is stated and the negations rule out all labels but
    one, that one is the answer ("It is not true" is false; "neither entails nor contradicts"
    is neutral); otherwise "not entailment" alone says nothing. A word that is itself a label
    ("no") is read as that label.
    """
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", completion.lower())
    ruled_out: set[str] = set()
    last_negated = -10
    for i, w in enumerate(words):
        if w not in synonyms:
            continue
        before = words[max(0, i - 2):i]
        negated = any(b in _NEGATION or b.endswith("n't") for b in before) or (
            i - last_negated == 2 and words[i - 1] in ("or", "nor"))
        if not negated:
            return synonyms[w]
        ruled_out.add(synonyms[w])
        last_negated = i
    left = set(synonyms.values()) - ruled_out
    return left.pop() if ruled_out and len(left) == 1 else None
