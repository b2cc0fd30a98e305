"""Stated confidence, `overconfident` and `hallucination` labels; the knowledge suite end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.scoring import label_failure, make_scorer
from tts_bench.scoring.extract import extract_confidence
from tts_bench.strategies import resolve
from tts_bench.strategies.base import Context, Item, reset_clock
from tts_bench.suite import ScorerSpec, load, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris.\nConfidence: 85%\nFinal answer: B", 0.85),
        ("Confidence: 0.85", 0.85),
        ("Confidence: 85", 0.85),  # a bare number above 1 is a percentage
        ("**Confidence:** 90%", 0.90),
        ("**Confidence**: 0.3", 0.30),
        ("confidence level = 72 percent", 0.72),
        ("Confidence: .5", 0.50),
        ("Confidence: 1", 1.0),
        ("Confidence: 60%\nOn reflection... Confidence: 95%", 0.95),  # the last one
        ("Confidence: 150%", None),
        ("I am fairly confident: B", None),
        ("My confidence is high", None),
        ("", None),
    ],
)
def test_extract_confidence(text, expected):
    got = extract_confidence(text)
    assert got == (None if expected is None else pytest.approx(expected))


def label(correct, confidence, wrong_label="wrong_answer", answer="B"):
    return label_failure(
        status="ok",
        answer=answer,
        text=f"Final answer: {answer}",
        finish_reason="stop",
        correct=correct,
        confidence=confidence,
        wrong_label=wrong_label,
    )


def test_wrong_label_and_overconfidence():
    assert label(False, 0.5) == "wrong_answer"
    assert label(False, 0.5, "hallucination") == "hallucination"
    assert label(False, None, "hallucination") == "hallucination"
    assert label(False, 0.9, "hallucination") == "overconfident"  # overconfident wins
    assert label(True, 0.99, "hallucination") is None
    assert label(False, 0.95, "hallucination", answer=None) == "format_violation"
    with pytest.raises(ValueError):
        label(False, 0.5, "made_up")


def test_wrong_label_in_a_suite_is_checked():
    base = {
        "name": "k",
        "dataset": {"source": "builtin:knowledge"},
        "baseline": "s",
        "configs": [{"name": "s", "strategy": "single"}],
    }
    ok = parse({**base, "scorer": {"type": "choice", "wrong_label": "hallucination"}})
    assert ok.scorer.wrong_label == "hallucination"
    assert parse(base).scorer.wrong_label == "wrong_answer"
    with pytest.raises(UserError, match=r"scorer\.wrong_label"):
        parse({**base, "scorer": {"type": "choice", "wrong_label": "lie"}})


class Once:
    def __init__(self, text: str) -> None:
        self.text = text

    async def generate(self, spec: ModelSpec, messages, *, sample_index: int = 0) -> Completion:
        return Completion(self.text, "stop", Usage(), 0.0, 0.3)


@pytest.mark.parametrize("name", ["single", "cot"])
def test_single_and_cot_report_the_stated_confidence(name):
    def solve(text: str):
        ctx = Context(
            item=Item(id="q", inputs={"question": "Capital of Oskland?"}),
            config=name,
            model=ModelSpec(model="fake/x"),
            client=Once(text),
            answerer=make_scorer(ScorerSpec(type="choice", choices=["A", "B", "C", "D"])),
            render=lambda it: [{"role": "user", "content": it.inputs["question"]}],
        )
        reset_clock()
        return asyncio.run(resolve(name, {}, "t")(ctx))

    res = solve("Oskvik.\nConfidence: 92%\nFinal answer: C")
    assert (res.answer, res.confidence) == ("C", pytest.approx(0.92))
    assert solve("Final answer: C").confidence is None


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> pd.DataFrame:
    suite = load(ROOT / "suites" / "knowledge.yaml")
    assert suite.scorer.wrong_label == "hallucination"
    suite.configs = [c for c in suite.configs if c.name in ("single", "sc")]
    out: Path = tmp_path_factory.mktemp("knowledge")
    result = runner.run(suite, out_dir=out, run_id="kn", use_cache=False)
    assert result.status == "complete"
    recs = pd.read_json(out / "kn" / "records.jsonl", lines=True)
    recs["popularity"] = recs.strata.map(lambda s: s["popularity"])
    return recs


def test_knowledge_labels_confidently_wrong_answers(knowledge):
    single = knowledge[knowledge.config == "single"]
    counts = single.failure.value_counts()
    assert counts.get("overconfident", 0) >= 10  # measured 30 of 300
    assert counts.get("hallucination", 0) >= 30  # measured 77
    assert "wrong_answer" not in set(knowledge.failure.dropna())
    # the label follows the stated confidence the record carries
    answered = single[single.answer.notna()]
    assert answered.confidence.notna().mean() > 0.95
    over = single[single.failure == "overconfident"]
    assert (over.confidence >= 0.9).all() and (over.correct == False).all()  # noqa: E712
    hall = single[single.failure == "hallucination"]
    assert (hall.confidence < 0.9).all() and (hall.correct == False).all()  # noqa: E712


def test_knowledge_sampling_does_not_recover_unknown_facts(knowledge):
    by = knowledge.groupby(["config", "popularity"])
    acc, agree = by.correct.mean(), by.confidence.mean()
    # rarely seen facts stay mostly wrong under a 9-sample vote (measured 0.44 -> 0.48)...
    assert acc["sc", "low"] < 0.6 and acc["sc", "low"] - acc["single", "low"] < 0.1
    assert acc["sc", "high"] > 0.85
    # ...and the samples disagree there: vote agreement is low (measured 0.74 vs 0.93)
    assert agree["sc", "low"] < agree["sc", "high"] - 0.1
    sc = knowledge[knowledge.config == "sc"]
    wrong_low = sc[(sc.popularity == "low") & (sc.correct == False)]  # noqa: E712
    right_high = sc[(sc.popularity == "high") & (sc.correct == True)]  # noqa: E712
    assert wrong_low.confidence.mean() < 0.8  # measured 0.70
    assert right_high.confidence.mean() > 0.9  # measured 0.95
