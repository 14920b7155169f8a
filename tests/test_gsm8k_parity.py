"""GSM8K scoring against lm-evaluation-harness's two documented filters, reimplemented here from
its gsm8k task config: the project must be right (agree with the careful human reading written
beside each completion) wherever the flexible filter is right, in every category.

Completions are written here in the forms real models produce; each carries the gold answer
and whether a careful reader would mark it correct.
"""

from __future__ import annotations

import re
from collections import defaultdict

from harness import Row
from harness.plugins import registry

# lm-eval gsm8k: strict takes the first "#### N"; flexible the last number-like run; both then
# compare after dropping commas, "$", everything up to "#### " and a final period.
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
IGNORE = [",", r"\$", r"(?s).*#### ", r"\.$"]


def _lm_eval(pattern: re.Pattern, text: str, select: int) -> str:
    found = pattern.findall(text)
    if not found:
        return "[invalid]"
    match = found[select]
    if isinstance(match, tuple):
        match = [m for m in match if m][0]
    return match.strip()


def _normalise(text: str) -> str:
    for pattern in IGNORE:
        text = re.sub(pattern, "", text)
    return text.lower()


def lm_eval_correct(kind: str, completion: str, gold: str) -> bool:
    pattern, select = (STRICT, 0) if kind == "strict" else (FLEXIBLE, -1)
    return _normalise(_lm_eval(pattern, completion, select)) == _normalise(gold)


# (category, completion, gold, a careful reader marks it correct)
CASES = [
    ("clean", "She sells 16 - 3 - 4 = 9 eggs.\n#### 9", "9", True),
    ("clean", "9 * 2 = 18 dollars.\n#### 18", "18", True),
    ("clean", "He runs 3 * 60 = 180 meters.\n#### 180", "180", True),
    ("clean", "Total is 20 + 5 = 25.\n#### 26", "25", False),
    ("after_hash", "#### 25 pens (5 boxes of 5)", "25", True),
    ("after_hash", "#### 18\nCheck: 18 x 2 = 36, which matches.", "18", True),
    ("after_hash", "#### 70 dollars. That is 10 more than last week.", "70", True),
    ("after_hash", "#### 7 (because 3 + 4)", "7", True),
    ("after_hash", "#### 12 cookies, since 4 x 3 = 12", "12", True),
    ("answer_is", "The answer is 72.", "72", True),
    ("answer_is", "So the answer is 5 hours.", "5", True),
    ("answer_is", "The answer is 40 - 15 = 25 pens, so 25 x 4 = 100", "100", True),
    ("answer_is", "The answer is $25 for 5 items.", "25", True),
    ("answer_is", "The answer is 3 x 4 = 12 apples in 2 bags.", "12", True),
    ("answer_is", "The answer is 14. He had 2 left over.", "14", True),
    ("answer_is", "The answer is 15.", "16", False),
    ("self_correction", "The answer is 12. Wait, I forgot the 3 extra: the answer is 15.", "15",
     True),
    ("self_correction", "#### 12\nActually, I missed one box, so the answer is 14.", "14", True),
    ("self_correction", "The answer is 30. No: 6 x 6 = 36, so the answer is 36.", "36", True),
    ("no_marker", "First 12, then 30, finally 18", "18", True),
    ("no_marker", "3 + 4 = 7", "7", True),
    ("no_marker", "She has 48 / 2 = 24 clips left.", "24", True),
    ("no_marker", "So she earned 10 dollars", "12", False),
    ("no_marker", "He gets 18 apples. That is 2 more than yesterday.", "18", True),
    ("formats", "#### $1,234.50", "1234.5", True),
    ("formats", "#### 1,200", "1200", True),
    ("formats", "The total is $1,080.", "1080", True),
    ("formats", "#### -5", "-5", True),
    ("formats", "The temperature drops to -5 degrees.", "-5", True),
    ("formats", "#### .5", "0.5", True),
    ("formats", "#### 18.0", "18", True),
    ("no_answer", "I do not know.", "4", False),
    ("no_answer", "", "4", False),
    ("no_answer", "Let me think about the question step by step", "4", False),
]


KNOWN_MISSES = {
    # No marker, and the answer is not the last number: no rule reads this without the question.
    "He gets 18 apples. That is 2 more than yesterday.",
}


def _row(gold: str) -> Row:
    return Row(id="g", prompt="Question: ...\nAnswer:", target=f" ...\n#### {gold}", answer=gold)


def test_the_project_is_right_wherever_the_flexible_filter_is():
    gsm8k = registry().make("capabilities", "gsm8k")
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    worse = []
    for category, completion, gold, correct in CASES:
        ours = gsm8k.score(_row(gold), completion) == 1.0
        flexible = lm_eval_correct("flexible", completion, gold)
        strict = lm_eval_correct("strict", completion, gold)
        t = tally[category]
        t[0] += 1
        t[1] += ours == correct
        t[2] += flexible == correct
        t[3] += strict == correct
        if flexible == correct and ours != correct:
            worse.append((category, completion))
    print("\ncategory          n  project  flexible  strict")
    for category, (n, o, f, s) in tally.items():
        print(f"{category:16s} {n:2d}  {o:7d}  {f:8d}  {s:6d}")
    assert not worse, f"flexible is right and the project is not: {worse}"
    misses = {c for _, c, g, ok in CASES if (gsm8k.score(_row(g), c) == 1.0) != ok}
    assert misses == KNOWN_MISSES, misses
    # The fixture set must be able to tell the filters apart, or it proves nothing.
    assert sum(t[2] for t in tally.values()) < len(CASES)
    assert sum(t[3] for t in tally.values()) < sum(t[2] for t in tally.values())
