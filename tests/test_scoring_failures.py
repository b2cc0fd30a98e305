"""Failure labels: infrastructure kept apart from model failures; refusals conservative."""

from __future__ import annotations

import pytest

from tts_bench.scoring import INFRA_FAILURES, MODEL_FAILURES, is_refusal, label_failure


def label(**kw):
    base = dict(status="ok", answer="4", text="Final answer: 4", finish_reason="stop")
    base.update(correct=True)
    base.update(kw)
    return label_failure(**base)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("rate_limited", "rate_limited"),
        ("timeout", "timeout"),
        ("server_error", "api_error"),
        ("bad_request", "api_error"),
        ("connection_error", "api_error"),
    ],
)
def test_infra_status(status: str, expected: str) -> None:
    got = label(status=status, answer=None, text="", correct=None)
    assert got == expected and got in INFRA_FAILURES


def test_model_labels() -> None:
    assert label() is None
    assert label(correct=False) == "wrong_answer"
    assert label(correct=False, confidence=0.95) == "overconfident"
    assert label(correct=False, confidence=0.6) == "wrong_answer"
    assert label(correct=True, confidence=0.99) is None
    assert label(answer=None, text="rambling", correct=False) == "format_violation"
    assert label(answer=None, finish_reason="length", correct=False) == "truncated"
    # cut off and wrong: the number extracted from a cut-off output is usually a stray
    # step value, and the fix is max_tokens, so the label says truncated
    assert label(finish_reason="length", correct=False) == "truncated"
    assert label(finish_reason="length", correct=True) is None  # cut off but right
    assert label(correct=None) is None  # unscored but ok: no label
    assert label(answer=None, text="", finish_reason="content_filter", correct=False) == "refusal"
    for name in ("wrong_answer", "format_violation", "truncated", "refusal", "overconfident"):
        assert name in MODEL_FAILURES
    assert "hallucination" in MODEL_FAILURES


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot help with this request.",
        "I’m sorry, but that is not something I can do.",  # curly apostrophe
        "As an AI language model, I cannot provide that.",
        "I am unable to assist with that request.",
        "I won't answer that.",
    ],
)
def test_refusals(text: str) -> None:
    assert is_refusal(text)
    assert label(answer=None, text=text, correct=False) == "refusal"


@pytest.mark.parametrize(
    "text",
    [
        "I can't be sure, but the total is 12.\nFinal answer: 12",
        "Sorry for the long derivation. Final answer: 5",
        "The clerk said 'I cannot help you' to the customer, so Bob left. Final answer: 3",
        "Let me compute. " + "step. " * 80 + "I'm sorry, but I can't help with that.",
    ],
)
def test_not_refusals(text: str) -> None:
    # hedging, quoted speech in a word problem, and a phrase deep in the reasoning are not
    # refusals
    assert not is_refusal(text)
    assert label(text=text, correct=False) == "wrong_answer"


def test_correct_answer_is_never_a_refusal() -> None:
    assert label(text="I'm sorry, but I can't help... just kidding: 4", correct=True) is None
