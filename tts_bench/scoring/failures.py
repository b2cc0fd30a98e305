"""Failure-mode labels for a record: infrastructure failures kept apart from model failures.

Infrastructure (`INFRA_FAILURES`): the call never produced a model answer, so the record is
unscored (correct = None), never counted wrong. Model (`MODEL_FAILURES`): the model answered
badly. `hallucination` is how a factual suite names a wrong answer (the scorer's
`wrong_label`); a confidently wrong answer is `overconfident` either way.
"""

from __future__ import annotations

import re

INFRA_FAILURES = ("rate_limited", "timeout", "api_error")
MODEL_FAILURES = (
    "wrong_answer",
    "format_violation",
    "truncated",
    "refusal",
    "hallucination",
    "overconfident",
)
OVERCONFIDENT_AT = 0.9  # a wrong answer given with at least this confidence
_REFUSAL_WINDOW = 300  # refusals come first; a phrase deep in reasoning is not one

_REFUSAL = re.compile(
    r"(?i)(?:^|[\s\"(])(?:"
    r"I(?:'m| am) (?:sorry|afraid),? but I (?:can't|cannot|can not|won't|will not|am unable|'m unable)"
    r"|I (?:can't|cannot|can not|won't|will not|am unable to|'m unable to|am not able to)"
    r" (?:help|assist|provide|comply|answer|do that|fulfil|fulfill|support|complete|respond)"
    r"|I(?:'m| am) sorry,? but (?:I|that|this)\b"
    r"|as an AI(?: language model| assistant)?,? I (?:can't|cannot|don't|do not|am not|'m not)"
    r")"
)


def is_refusal(text: str) -> bool:
    """A conservative refusal test: a refusal phrase near the start of the output."""
    head = text.strip().replace("\u2019", "'")[:_REFUSAL_WINDOW]
    return bool(_REFUSAL.search(head))


def label_failure(
    *,
    status: str,
    answer: str | None,
    text: str,
    finish_reason: str | None,
    correct: bool | None,
    confidence: float | None = None,
    wrong_label: str = "wrong_answer",
) -> str | None:
    """The failure label of one record, or None when it is not a failure.

    status: the call status ("ok", or rate_limited / timeout / anything else -> api_error);
    answer: the extracted answer; text: the raw output; finish_reason: "length" means cut
    off, "content_filter" a provider-side refusal; correct: the score; confidence: e.g. the
    vote share or the model's stated confidence (wrong with >= 0.9 -> overconfident);
    wrong_label: the label of any other wrong answer (`wrong_answer`, or `hallucination` for
    factual questions).
    """
    if wrong_label not in ("wrong_answer", "hallucination"):
        raise ValueError(f"wrong_label must be wrong_answer or hallucination, got {wrong_label!r}")
    if status != "ok":
        return status if status in ("rate_limited", "timeout") else "api_error"
    if finish_reason == "length" and correct is not True:
        # a cut-off output is truncated even when a stray number in it can be extracted
        return "truncated"
    if correct is not True and (finish_reason == "content_filter" or is_refusal(text or "")):
        return "refusal"
    if answer is None:
        return "format_violation"
    if correct is False:
        if confidence is not None and confidence >= OVERCONFIDENT_AT:
            return "overconfident"
        return wrong_label
    return None
