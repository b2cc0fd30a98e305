"""Scorer normalisation steps: each step's effect (Unicode included), idempotence, the order
of application, validation of the names, and where the scorers apply them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import cli
from tts_bench.errors import UserError
from tts_bench.scoring import make_scorer
from tts_bench.scoring.normalize import STEPS, parse_steps, pipeline
from tts_bench.suite import ScorerSpec, parse

E_NFD = "e\u0301"  # e + combining acute: the same text as "é" (U+00E9) under NFC


@pytest.mark.parametrize(
    ("step", "text", "want"),
    [
        ("casefold", "Straße ÉA", "strasse éa"),
        ("nfkd", "café", "cafe"),
        ("nfkd", f"caf{E_NFD}", "cafe"),
        ("nfkd", "ﬁne Ａ１", "fine A1"),  # ligature, full-width letter and digit
        ("nfkd", "Ångström", "Angstrom"),
        ("nfkd", "कि", "कि"),  # a vowel sign (combining class 0) is part of the letter: kept
        ("nfkc", "ﬁne Ａ１ é", "fine A1 é"),  # compatibility forms plain, accents kept
        ("strip_punct", "a-b-c! «d», 「e」…", "abc d e"),
        ("strip_punct", "$1+2^3", "$1+2^3"),  # symbols are not punctuation
        ("collapse_space", "a \t b\n\nc", "a b c"),
        ("drop_space", " a b\u00a0c\td ", "abcd"),  # no-break space and tab too
        ("letters_only", "a-b c!1é", "abcé"),
        ("letters_only", "日本語 123", "日本語"),
        ("alnum_only", "a-1 b_2 ³", "a1b2³"),
        ("digits_only", "1,234.5 ٣", "12345٣"),  # Arabic-Indic three is a decimal digit
        ("drop_articles", "The cat and a dog, an owl", "cat and dog, owl"),
        ("drop_articles", "theatre another A", "theatre another"),  # whole words only
    ],
)
def test_each_step(step: str, text: str, want: str) -> None:
    norm = pipeline([step])
    assert norm is not None and norm(text) == want


def test_no_steps_means_no_normaliser() -> None:
    assert pipeline([]) is None and pipeline(None) is None


def test_precomposed_and_decomposed_accents_are_one_text_under_any_step() -> None:
    for step in STEPS:
        norm = pipeline([step])
        assert norm is not None and norm(f"caf{E_NFD}") == norm("café"), step


def test_steps_apply_in_the_order_given() -> None:
    # nfkd first turns "⑴" into "(1)", whose parentheses strip_punct then removes
    assert pipeline(["nfkd", "strip_punct"])("⑴") == "1"  # type: ignore[misc]
    assert pipeline(["strip_punct", "nfkd"])("⑴") == "(1)"  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.sampled_from(sorted(STEPS)))
def test_every_step_is_idempotent(text: str, step: str) -> None:
    norm = pipeline([step])
    assert norm is not None and norm(norm(text)) == norm(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_the_usual_pipelines_are_idempotent(text: str) -> None:
    for steps in (
        ["letters_only", "casefold"],
        ["nfkd", "letters_only", "casefold"],
        ["nfkc", "casefold", "strip_punct", "drop_articles", "collapse_space"],
    ):
        norm = pipeline(steps)
        assert norm is not None and norm(norm(text)) == norm(text), steps


def test_bad_names_are_one_line_errors_listing_the_known_steps() -> None:
    base = {
        "name": "x",
        "dataset": {"source": "d.jsonl"},
        "configs": [{"name": "a", "strategy": "cot"}],
    }
    with pytest.raises(UserError) as exc:
        parse({**base, "scorer": {"normalize": ["casefold", "lettersonly"]}}, "s.yaml")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("s.yaml: scorer.normalize: ")
    assert "'lettersonly'" in msg and all(name in msg for name in STEPS)
    with pytest.raises(UserError, match="listed twice"):
        parse({**base, "scorer": {"normalize": ["nfkd", "nfkd"]}}, "s.yaml")
    with pytest.raises(UserError, match="numeric scorer"):
        parse({**base, "scorer": {"type": "numeric", "normalize": ["casefold"]}}, "s.yaml")
    with pytest.raises(UserError, match="contradicts case_sensitive"):
        parse({**base, "scorer": {"case_sensitive": True, "normalize": ["casefold"]}}, "s.yaml")
    with pytest.raises(UserError, match=r"^--normalize: unknown normalisation step 'x'"):
        parse_steps("casefold, x")
    # a comma string reads as the list, in order
    suite = parse({**base, "scorer": {"normalize": "nfkd, letters_only"}}, "s.yaml")
    assert suite.scorer.normalize == ["nfkd", "letters_only"]


def test_import_cli_rejects_an_unknown_step(tmp_path) -> None:
    pool = tmp_path / "p.jsonl"
    pool.write_text('{"id": "a", "target": "x", "samples": ["Answer: x"]}\n')
    proc = cli("import", str(pool), "--normalize", "letters", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --normalize: unknown normalisation step 'letters' (known: " + ", ".join(STEPS) + ")"
    ]
    assert not (tmp_path / "r").exists()


def scorer(**kw):
    return make_scorer(ScorerSpec(**kw))


PAPER = ["nfkd", "letters_only", "casefold"]


@pytest.mark.parametrize(
    ("answer", "plain", "normalised"),
    [
        ("abc", True, True),
        ("ABC.", True, True),  # case and a trailing period: plain exact already ignores them
        ("a-b-c", False, True),
        ("a b c", False, True),
        ("abc!", False, True),
        ("àbç", False, True),
        ("abd", False, False),
    ],
)
def test_exact_scoring_under_normalisation(answer: str, plain: bool, normalised: bool) -> None:
    assert scorer(type="exact").score(answer, "abc").correct is plain
    assert scorer(type="exact", normalize=PAPER).score(answer, "abc").correct is normalised
    # the target is normalised too, and every entry of a list target
    assert scorer(type="exact", normalize=PAPER).score(answer, ["x", "A-B-C"]).correct is normalised


def test_key_is_the_normalised_answer_and_agrees_with_the_score() -> None:
    sc = scorer(type="exact", normalize=PAPER)
    answers = ["a-b-c", "A B C", "abc!", "àbç", "abd", "a.b.d"]
    assert {sc.key(a) for a in answers} == {"abc", "abd"}
    for a in answers:
        for b in answers:
            if sc.key(a) == sc.key(b):  # one vote class -> one score
                assert sc.score(a, "abc").correct is sc.score(b, "abc").correct


def test_an_answer_with_nothing_left_is_no_answer() -> None:
    sc = scorer(type="exact", normalize=["letters_only"])
    assert sc.extract("Final answer: ...") is None and sc.extract("Final answer: 42") is None
    assert sc.extract("Final answer: a-b") == "a-b"  # stored as written
    assert scorer(type="exact").extract("Final answer: 42") == "42"
    assert sc.check_target("42") == "target '42' is empty after normalize [letters_only]"
    assert sc.check_target("ab") is None


def test_case_sensitive_scoring_keeps_case_through_the_steps() -> None:
    sc = scorer(type="exact", case_sensitive=True, normalize=["strip_punct"])
    assert sc.score("A-B", "AB").correct is True
    assert sc.score("a-b", "AB").correct is False


def test_regex_matches_the_normalised_answer_only() -> None:
    sc = scorer(type="regex", pattern=r"[a-z]{3}", normalize=["letters_only"])
    assert sc.score("a-b-c", None).correct is True
    assert scorer(type="regex", pattern=r"[a-z]{3}").score("a-b-c", None).correct is False
    # the pattern itself is not normalised: its punctuation still means what it says
    target_is_pattern = scorer(type="regex", normalize=["drop_space"])
    assert target_is_pattern.score("4 2", r"\d+").correct is True


def test_choice_names_match_under_normalisation() -> None:
    spec = {"type": "choice", "choices": ["café", "naïve"]}
    assert scorer(**spec).extract("Final answer: cafe") is None
    sc = scorer(**spec, normalize=["nfkd"])
    assert sc.extract("Final answer: cafe") == "café"
    assert sc.extract("I would say...\nNAIVE") == "naïve"
    assert sc.score("Cafe", "café").correct is True
    letters = scorer(type="choice", normalize=["strip_punct"])  # letter choices are unchanged
    assert letters.extract("Answer: (B)") == "B" and letters.score("B", 1).correct is True


def test_set_f1_normalises_each_id() -> None:
    sc = scorer(type="set_f1", normalize=["strip_punct"])
    r = sc.score("C-3, C12", "C3, c12")
    assert (r.correct, r.value) == (True, 1.0)
    assert sc.key("C-3, C12") == sc.key("c12, C3")
    plain = scorer(type="set_f1").score("C-3, C12", "C3, c12")
    assert plain.correct is False and plain.value == pytest.approx(0.5)


def test_numeric_is_untouched() -> None:
    assert scorer(type="numeric").normalize == []
    with pytest.raises(ValueError, match="numeric scorer"):
        ScorerSpec(type="numeric", normalize=["digits_only"])


def test_a_native_runs_manifest_records_the_steps() -> None:
    from tts_bench.resolve import ResolvedSuite

    suite = parse(
        {
            "name": "x",
            "dataset": {"source": "d.jsonl"},
            "scorer": {"type": "exact", "normalize": ["nfkd", "letters_only", "casefold"]},
            "configs": [{"name": "a", "strategy": "cot"}],
        },
        "s.yaml",
    )
    manifest = ResolvedSuite(suite).manifest("r", "fp", [])
    assert manifest["suite"]["scorer"]["normalize"] == ["nfkd", "letters_only", "casefold"]
    # and the analysis reads the scorer (so its vote key) back from there
    assert ScorerSpec.model_validate(manifest["suite"]["scorer"]) == suite.scorer
