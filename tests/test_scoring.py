"""Answer extractors on awkward completions, through each capability's own scorer."""

from __future__ import annotations

import pytest

from harness import Row
from harness.plugins import registry
from harness.scoring import choose_option, first_label, last_number


@pytest.mark.parametrize("text,expected", [
    ("The answer is 72.", 72), ("#### 1,234", 1234), ("so she pays $1,234.50 in total", 1234.5),
    ("It drops to -5 degrees", -5), ("3 + 4 = 7\n#### 7", 7), ("7.0", 7),
    ("first 12, then 30, finally 18", 18), ("The answer is 18. Check: 18 = 9 + 9 + 0", 18),
    ("#### $42", 42), ("no number here", None), ("", None),
])
def test_last_number(text, expected):
    assert last_number(text) == expected


OPTIONS = ["paris", "lyon", "new paris", "marseille"]


@pytest.mark.parametrize("text,expected", [
    ("B", 1), (" (B) lyon", 1), ("The answer is (B).", 1), ("answer: c", 2), ("B.", 1),
    ("(D) marseille. Explanation: it is by the sea", 3), ("Lyon.", 1), ("  new paris ", 2),
    ("I think marseille", 3), ("A person would say lyon", 1),
    ("paris or lyon", None), ("", None), ("F", None), ("The answer is (F)", None),
])
def test_choose_option(text, expected):
    assert choose_option(text, OPTIONS) == expected


YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}


@pytest.mark.parametrize("text,expected", [
    (" yes", "yes"), ("No.", "no"), ("YES, it is", "yes"), ("True", "yes"),
    ("Not at all, no", "no"), ("nothing", None), ("", None), ("no, wait, yes", "no"),
])
def test_first_label(text, expected):
    assert first_label(text, YES_NO) == expected


def _row(**kw) -> Row:
    base = {"id": "x", "prompt": "p:", "target": " t", "answer": "t"}
    return Row(**{**base, **kw})


CASES = {
    "gsm8k": (_row(answer="1234"), [" She pays 1,234 dollars.\n#### 1,234", "The answer is $1,234.",
                                    "1234.00"], [" 1235", "#### 12340", ""]),
    "synth_arith": (_row(answer="7"), [" 3+4=7. #### 7", "The answer is 7."], ["#### 8", ""]),
    "scan": (_row(answer="I_JUMP I_WALK"), [" I_JUMP I_WALK", "I_JUMP  I_WALK\n"],
             ["I_JUMP", "i_jump i_walk", "I_WALK I_JUMP", ""]),
    "creak": (_row(answer="true"), [" true", "True.", "Yes, that is right", "TRUE. Because"],
              [" false", "no", "", "unknown"]),
    "mctaco": (_row(answer="no", meta={"question_key": "q"}), [" no", "No.", "NO, never"],
               [" yes", "", "maybe"]),
    "esnli": (_row(answer="contradiction"),
              [" contradiction. Explanation: x", "Contradiction", "The premise contradicts it"],
              [" entailment", " neutral. Explanation: no contradiction", ""]),
    "ecqa": (_row(answer="lyon", choices=OPTIONS, meta={"label_index": 1}),
             [" (B) lyon. Explanation: ...", "The answer is (B).", "lyon", "B"],
             [" (A) paris", "paris", "", "E"]),
    "openbookqa": (_row(answer="lyon", choices=OPTIONS, meta={"label_index": 1}),
                   ["B.", " (b) lyon"], ["(C) new paris", ""]),
    "sciq": (_row(answer="lyon", choices=OPTIONS, meta={"label_index": 1}),
             ["The answer is B", "Lyon"], ["D", "marseille", ""]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_capability_scores_awkward_completions(name):
    cap = registry().make("capabilities", name)
    row, right, wrong = CASES[name]
    assert [cap.score(row, t) for t in right] == [1.0] * len(right)
    assert [cap.score(row, t) for t in wrong] == [0.0] * len(wrong)
