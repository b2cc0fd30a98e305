"""Scorers: exact, numeric, choice, regex, set_f1; keys for voting; target display/checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tts_bench.errors import UserError
from tts_bench.scoring import make_scorer
from tts_bench.suite import ScorerSpec


def scorer(**kw):
    return make_scorer(ScorerSpec(**kw))


def test_none_answer_is_wrong_with_zero_value() -> None:
    for kind in ("exact", "numeric", "choice", "regex", "set_f1"):
        r = scorer(type=kind, pattern=".*" if kind == "regex" else None).score(None, "1")
        assert (r.correct, r.value) == (False, 0.0)


@pytest.mark.parametrize(
    ("answer", "target", "ok"),
    [
        ("Paris", "paris", True),
        ("Paris.", "Paris", True),
        ("New   York", "new york", True),
        ("Paris", "Lyon", False),
        ("Paris", ["Lyon", "PARIS"], True),  # a list target means any of them
    ],
)
def test_exact(answer: str, target, ok: bool) -> None:
    r = scorer(type="exact").score(answer, target)
    assert r.correct is ok and r.value == (1.0 if ok else 0.0)


def test_exact_case_sensitive() -> None:
    assert scorer(type="exact", case_sensitive=True).score("paris", "Paris").correct is False
    assert scorer(type="exact", case_sensitive=True).score("Paris", "Paris").correct is True


@pytest.mark.parametrize(
    ("answer", "target", "tol", "ok"),
    [
        ("42", 42, 1e-6, True),
        ("42", "42.0", 1e-6, True),
        ("1234", "1,234", 1e-6, True),
        ("42.4", 42, 0.5, True),
        ("42.6", 42, 0.5, False),
        ("41", 42, 1e-6, False),
        ("100000000001", 100000000000, 0.0, True),  # within the relative 1e-9
        ("100001000000", 100000000000, 0.0, False),  # beyond it
    ],
)
def test_numeric(answer: str, target, tol: float, ok: bool) -> None:
    assert scorer(type="numeric", tolerance=tol).score(answer, target).correct is ok


def test_numeric_bad_target_is_user_error() -> None:
    s = scorer(type="numeric")
    with pytest.raises(UserError, match="not a number"):
        s.score("3", "three")
    item = SimpleNamespace(id="q7", target="three")
    with pytest.raises(UserError, match="'q7'"):
        s.check_targets([SimpleNamespace(id="q1", target=3), item])


def test_choice_scorer_letters_and_index_targets() -> None:
    s = scorer(type="choice")
    assert s.score("B", "b").correct is True
    assert s.score("B", "(B)").correct is True
    assert s.score("B", 1).correct is True  # integer targets are 0-based indices
    assert s.score("C", "B").correct is False
    assert s.target_text(2) == "C"
    assert s.check_target("Z") is not None


def test_regex_pattern_and_target_as_pattern() -> None:
    s = scorer(type="regex", pattern=r"\d{4}-\d{2}-\d{2}")
    assert s.score("2024-01-05", "ignored").correct is True
    assert s.score("2024-1-5", "ignored").correct is False
    t = scorer(type="regex")  # no pattern: the target is the pattern
    assert t.score("colour", r"colou?r").correct is True
    assert t.score("colours", r"colou?r").correct is False  # fullmatch, not search
    with pytest.raises(UserError, match="invalid regular expression"):
        scorer(type="regex", pattern="(unclosed")


def test_set_f1() -> None:
    s = scorer(type="set_f1")
    r = s.score("C3, C12", ["C3", "C7"])
    assert r.correct is False
    assert r.value == pytest.approx(0.5)
    assert r.metrics == {"precision": 0.5, "recall": 0.5}
    r = s.score("C12, C3", "c3, C12")  # comma-string target, any order, case-insensitive
    assert (r.correct, r.value) == (True, 1.0)
    r = s.score("C1, C2, C3", "C1")
    assert r.metrics["precision"] == pytest.approx(1 / 3) and r.metrics["recall"] == 1.0
    assert s.score("", []).correct is True  # both empty: a correct empty answer
    assert s.score("C1", []).value == 0.0


def test_keys_identify_equal_answers() -> None:
    num = scorer(type="numeric")
    assert num.key("42.0") == num.key("42") == "42"
    assert scorer(type="choice").key("b") == "B"
    st = scorer(type="set_f1")
    assert st.key("C12, C3") == st.key("c3,C12") == "c3,c12"
    ex = scorer(type="exact")
    assert ex.key("Paris.") == ex.key("  paris ") != ex.key("Lyon")


def test_target_text() -> None:
    assert scorer(type="numeric").target_text(3.0) == "3"
    assert scorer(type="set_f1").target_text(["C12", "C3"]) == "C3, C12"
    assert scorer(type="exact").target_text(["a", "b"]) == "a | b"
    assert scorer(type="exact").target_text("Paris") == "Paris"


def test_extract_then_score_end_to_end() -> None:
    s = scorer(type="numeric")
    text = "Each box has 12, so 12 * 3 = 36.\nFinal answer: $36"
    assert s.score(s.extract(text), 36).correct is True


def test_without_normalize_exact_compares_the_text_as_written() -> None:
    # only whitespace, a trailing period and (by default) case are ignored; see
    # test_scoring_normalize for the `normalize` steps that widen this
    sc = scorer(type="exact")
    assert sc.normalize == []
    assert [sc.score(a, "éa").correct for a in ("ÉA.", " éa ", "ea", "e\u0301a", "é-a")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert sc.key("É  A.") == "é a"
