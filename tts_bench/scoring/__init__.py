"""Scoring: answer extraction, scorers (exact numeric choice regex set_f1; judge, graded by
an LLM after the run's calls: scoring/judge.py), failure labels."""

from tts_bench.scoring.failures import (
    INFRA_FAILURES,
    MODEL_FAILURES,
    is_refusal,
    label_failure,
)
from tts_bench.scoring.scorers import Scorer, ScoreResult, make_scorer, normalise_text

__all__ = [
    "INFRA_FAILURES",
    "MODEL_FAILURES",
    "ScoreResult",
    "Scorer",
    "is_refusal",
    "label_failure",
    "make_scorer",
    "normalise_text",
]
