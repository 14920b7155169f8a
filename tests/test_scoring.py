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


@pytest.mark.parametrize("text,expected", [
    ("The answer is 18 or 9", None), ("#### 3 or 4", None), ("The answer is 5, or maybe 6.", None),
    ("She has 3 or 4 apples", None), ("#### 25 pens (5 boxes)", 25),
    ("it went from 10 to 15", 15), ("$5 each or 10 in total", 10),
    ("She has eighteen dollars left.", 18), ("The answer is eighteen dollars.", 18),
    ("The answer is twenty-five", 25), ("The answer is one hundred and five.", 105),
    ("one of the 5 boxes", 5), ("The answer is two thousand three hundred", 2300),
    ("The answer is none", None),
])
def test_hedged_answers_are_no_answer_and_number_words_are_read(text, expected):
    """The old reader took "18 or 9" as 18 (a guess credited when gold is 18) and read nothing
    in "eighteen dollars"."""
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


# The four failure classes found on real completions, and the minor ones.
@pytest.mark.parametrize("text,expected", [
    # (a) text after "#### N": a restated quantity, units in parentheses, a check line
    ("#### 25 pens (5 boxes of 5)", 25), ("#### 18\nCheck: 18 x 2 = 36", 18),
    ("#### 7 (3 + 4)", 7), ("#### 1,200 dollars, i.e. 12 hundreds", 1200),
    # (b) working after "the answer is"; a self-correction reads as its final answer
    ("the answer is 40 - 15 = 25 pens, so 25 x 4 = 100", 100),
    ("The answer is 12. Wait, I made an error: 3 x 5 = 15. The answer is 15.", 15),
    ("#### 12\nActually, the answer is 14.", 14), ("The answer is:\n42", 42),
    ("The answer is $25 for 5 items.", 25),
    # minor: a leading decimal point
    ("It costs .5 dollars", 0.5), ("#### .75", 0.75),
])
def test_the_answer_number_after_markers(text, expected):
    assert last_number(text) == expected


TF = {"true": "true", "false": "false"}
NLI = {"entailment": "entailment", "entail": "entailment", "neutral": "neutral",
       "contradiction": "contradiction", "contradict": "contradiction"}


@pytest.mark.parametrize("text,labels,expected", [
    # (c) label words under negation
    ("It is not true.", TF, "false"), ("That claim isn't true", TF, "false"),
    ("It is not false", TF, "true"), ("not entailment", NLI, None),
    ("It is not entailment, it is a contradiction", NLI, "contradiction"),
    ("No, it never happens", YES_NO, "no"),
    ("The premise does not entail or contradict the hypothesis.", NLI, "neutral"),
    ("It neither entails nor contradicts it", {**NLI, "entails": "entailment",
                                               "contradicts": "contradiction"}, "neutral"),
    ("It does not contradict the hypothesis.", NLI, None),
])
def test_negated_labels(text, labels, expected):
    assert first_label(text, labels) == expected


@pytest.mark.parametrize("text,expected", [
    # (d) "The answer is a <option text>" is the article, not option A
    ("The answer is a marseille", 3), ("The answer is A marseille.", 3),
    ("The answer is a new paris", 2),
    # minor: a bare lower-case letter
    ("b", 1), ("(c)", 2), ("d.", 3),
])
def test_letters_and_articles(text, expected):
    assert choose_option(text, OPTIONS) == expected


def test_a_letter_contradicting_its_text_follows_the_policy():
    text = "(B) paris"  # B is lyon; paris is A, word for word
    assert choose_option(text, OPTIONS) is None
    assert choose_option(text, OPTIONS, "letter") == 1
    assert choose_option(text, OPTIONS, "text") == 0
    assert choose_option("(B) lyon, not paris", OPTIONS) == 1  # not word for word another's
    reg = registry()
    row = _row(answer="lyon", choices=OPTIONS, meta={"label_index": 1})
    assert reg.make("capabilities", "sciq").score(row, text) == 0.0
    assert reg.make("capabilities", "sciq", {"conflict": "letter"}).score(row, text) == 1.0


def test_a_suite_can_swap_the_extraction_pipeline():
    from harness.errors import PluginError

    reg = registry()
    row = _row(answer="18")
    flexible = reg.make("capabilities", "gsm8k")
    strict = reg.make("capabilities", "gsm8k", {"extract": [{"number": {"mode": "strict"}}]})
    assert flexible.extraction() == [{"number": {"mode": "flexible"}}]
    assert flexible.score(row, "so she has 18 left") == 1.0
    assert strict.score(row, "so she has 18 left") == 0.0
    assert strict.score(row, "so she has 18 left\n#### 18") == 1.0
    with pytest.raises(PluginError, match="unknown extraction step 'numbr'"):
        reg.make("capabilities", "gsm8k", {"extract": ["numbr"]})


def test_the_number_reader_on_real_smollm2_completions():
    """Real GSM8K completions of SmolLM2-135M, judged by hand (tests/fixtures/smollm2_gsm8k.json):
    the budget cutting a repeated "The answer is 10." mid-repeat read nothing before (the last
    marker had no number), and an empty completion is no answer."""
    import json
    from pathlib import Path

    fixture = json.loads((Path(__file__).parent / "fixtures" / "smollm2_gsm8k.json").read_text())
    cap = registry().make("capabilities", "gsm8k")
    wrong = [(c["completion"][-60:], c["answer"])
             for c in fixture["completions"]
             if cap.answer_of(Row(id=c["id"], prompt="", target="", answer=""), c["completion"])
             != c["answer"]]
    assert not wrong
    assert sum(not c["completion"].strip() for c in fixture["completions"]) == 4
