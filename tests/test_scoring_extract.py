"""Answer extraction: a table of (scorer type, extract mode, output text) -> canonical answer."""

from __future__ import annotations

import pytest

from tts_bench.scoring import make_scorer
from tts_bench.scoring.extract import canonical_number, numbers
from tts_bench.suite import ScorerSpec

CASES = [
    # numeric, auto: final-answer line, then last number of the last line, then any number
    ("numeric", "auto", "Step 1: 3+4=7\nFinal answer: 42", "42"),
    ("numeric", "auto", "So the total is $1,234.50.", "1234.5"),
    ("numeric", "auto", "**Answer:** -3.5", "-3.5"),
    ("numeric", "auto", "**Final Answer**: 17", "17"),
    ("numeric", "auto", "Answer: 40%", "40"),
    ("numeric", "auto", "The answer is \\boxed{12}", "12"),
    ("numeric", "auto", "Final answer: 12 + 30 = 42", "42"),
    ("numeric", "auto", "Final answer: 42 apples", "42"),
    ("numeric", "auto", "Answer: 7\nwait, let me recheck.\nFinal answer: 8", "8"),
    ("numeric", "auto", "Final answer: 8\nThat took 3 steps.", "8"),
    ("numeric", "auto", "0.1 + 0.2 = 0.30000000000000004", "0.3"),
    ("numeric", "auto", "Final answer: 5.0", "5"),
    ("numeric", "auto", "Final answer: -$12", "-12"),
    ("numeric", "auto", "Final answer: 3/4", "0.75"),
    ("numeric", "auto", "It is 2.5e3 units", "2500"),
    ("numeric", "auto", "no numbers here", None),
    ("numeric", "auto", "", None),
    ("numeric", "auto", "Final answer: I am not sure\nbut 9 looks likely", "9"),
    ("numeric", "auto", "We had 1,000 items, sold 250; 750 remain", "750"),
    ("numeric", "auto", "final answer:   −7", "-7"),
    ("numeric", "last_number", "Answer: 4 then 5 then 6.", "6"),
    ("numeric", "last_number", "He gives away 19 cards: 84 - 19", "19"),
    ("numeric", "last_number", "Temperature fell to -4", "-4"),
    ("numeric", "final_line", "x = 3\nAnswer: 1,200", "1200"),
    ("numeric", "final_line", "the value is 3", None),
    ("numeric", "json", 'Result: {"answer": 12.0, "why": "sum"}', "12"),
    # choice
    ("choice", "auto", "Let me think. A good approach...\nAnswer: (B)", "B"),
    ("choice", "auto", "The answer is C.", "C"),
    ("choice", "auto", "A cat sat on a mat.\nI think it's D", "D"),
    ("choice", "auto", "A robust method is needed", None),
    ("choice", "auto", "B", "B"),
    ("choice", "auto", "b", "B"),
    ("choice", "auto", "Option c is right", "C"),
    ("choice", "auto", "**Answer:** B) 42 meters", "B"),
    ("choice", "auto", "Comparing options, (A) fails and (C) holds.", "C"),
    ("choice", "auto", "Answer: J", "J"),
    ("choice", "auto", "Answer: K", None),
    ("choice", "auto", "Answer: A is correct since 2 > 1", "A"),
    ("choice", "auto", "A is tempting, but (D) fits.\nSo: D", "D"),
    # set
    ("set_f1", "auto", "Violated: C3, C12 and C7", "C3, C7, C12"),
    ("set_f1", "auto", "Final answer: 3, 7, 12", "3, 7, 12"),
    ("set_f1", "auto", 'here ```json\n["C2", "C1", "C2"]\n```', "C1, C2"),
    ("set_f1", "auto", "The violated ones:\n- C4 because x\n- C1 since y", "C1, C4"),
    ("set_f1", "auto", 'Done. {"answer": ["C9", "C10"]}', "C9, C10"),
    ("set_f1", "auto", "We check all 3 rules.\nFinal answer: C2 and C5", "C2, C5"),
    ("set_f1", "auto", "Final answer: none", ""),
    ("set_f1", "auto", "I could not decide.", None),
    ("set_f1", "auto", "Final answer: apple, Pear and plum", "apple, Pear, plum"),
    # exact / json / raw
    ("exact", "auto", "Thinking...\nFinal Answer: **Paris**.", "Paris"),
    ("exact", "auto", "Paris", "Paris"),
    ("exact", "auto", "Some reasoning\nLondon", "London"),
    ("exact", "auto", "The capital is `Rome`", "The capital is `Rome`"),
    ("exact", "json", 'Sure: {"answer": "Paris", "why": {"a": 1}} done', "Paris"),
    ("exact", "json", '```json\n{"Answer": "Oslo"}\n```', "Oslo"),
    ("exact", "json", "no json at all", None),
    ("exact", "raw", "  Paris is it.  \n", "Paris is it."),
    ("exact", "auto", "Answer: __init__", "__init__"),
    ("exact", "auto", "Answer: snake_case_", "snake_case_"),
    ("exact", "auto", "Answer: wait...", "wait..."),
    ("regex", "auto", "Answer: 2024-01-05", "2024-01-05"),
]


@pytest.mark.parametrize(("kind", "mode", "text", "expected"), CASES)
def test_extraction_table(kind: str, mode: str, text: str, expected: str | None) -> None:
    scorer = make_scorer(ScorerSpec(type=kind, extract=mode))
    assert scorer.extract(text) == expected


def test_custom_word_choices() -> None:
    scorer = make_scorer(ScorerSpec(type="choice", choices=["yes", "no", "maybe"]))
    assert scorer.extract("Thinking it over.\nAnswer: No") == "no"
    assert scorer.extract("It is definitely maybe") == "maybe"
    assert scorer.extract("Answer: perhaps") is None


def test_numbers_parse_formats() -> None:
    assert numbers("a 1,234 b -3.5 c $12 d 40% e .5") == [1234, -3.5, 12, 40, 0.5]
    assert numbers("version 1.2.3") == []  # not a number, a version string


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-0.0, "0"), (0.30000000000000004, "0.3"), (1e20, "1e+20"), (2.5, "2.5")],
)
def test_canonical_number(value: float, text: str) -> None:
    assert canonical_number(value) == text
