"""set_vote: the per-element voting rule on a scripted pool, and the contracts suite end to end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.scoring import make_scorer
from tts_bench.strategies import resolve
from tts_bench.strategies.base import Context, Item, reset_clock
from tts_bench.strategies.set_vote import threshold
from tts_bench.suite import ScorerSpec, load


@dataclass
class Scripted:
    """Sample i answers texts[i]; `None` is a failed call (server error)."""

    texts: list[str | None]

    async def generate(self, spec: ModelSpec, messages, *, sample_index: int = 0) -> Completion:
        text = self.texts[sample_index]
        if text is None:
            return Completion("", None, Usage(), None, 0.5, status="server_error")
        lat = 1.0 + sample_index / 10
        return Completion(text, "stop", Usage(input_tokens=10, output_tokens=5), 1e-5, lat)


def vote_on(texts: list[str | None], scorer: ScorerSpec | None = None, **knobs):
    ctx = Context(
        item=Item(id="c1", inputs={"question": "Which clauses are risky?"}),
        config="cv",
        model=ModelSpec(model="fake/x", temperature=0.7),
        client=Scripted(texts),
        answerer=make_scorer(scorer or ScorerSpec(type="set_f1")),
        render=lambda it: [{"role": "user", "content": it.inputs["question"]}],
    )

    async def go():
        reset_clock()
        res = await resolve("set_vote", {"n": len(texts), **knobs}, "t")(ctx)
        return res, ctx.elapsed

    return (*asyncio.run(go()), ctx)


POOL = [
    "Final answer: 3, 7",
    "Final answer: 3, 7, 12",
    "Final answer: 3, 12",
    "Final answer: 3",
    "Final answer: C5",  # prefixed id: its own element
]


def test_keeps_elements_with_enough_votes():
    res, latency, ctx = vote_on(POOL, min_votes=2)  # 3: 4 votes, 7: 2, 12: 2, C5: 1
    assert res.answer == "3, 7, 12"
    assert res.info["element_votes"] == {"3": 4, "7": 2, "12": 2, "C5": 1}
    assert res.info["min_votes"] == 2 and res.info["usable"] == 5
    # one pool of parallel samples, kept in the record: latency is the slowest sample
    assert [c.role for c in ctx.calls] == ["sample"] * 5
    assert latency == pytest.approx(1.4)
    assert [s.answer for s in res.samples] == ["3, 7", "3, 7, 12", "3, 12", "3", "C5"]
    assert res.confidence == pytest.approx(1 / 5)  # one sample said exactly {3, 7, 12}


def test_min_share_rounds_up_and_min_votes_wins():
    assert threshold(9, None, 0.3) == 3
    assert threshold(10, None, 0.3) == 3  # 0.3 * 10 is 3.0000000000000004 in floats
    assert threshold(1, None, 0.3) == 1
    assert threshold(9, 5, 0.3) == 5
    res, _, _ = vote_on(POOL, min_share=0.5)  # ceil(2.5) = 3 of 5
    assert res.answer == "3"
    res, _, _ = vote_on(POOL, min_votes=5)
    assert res.answer == ""  # nothing reaches 5 votes: the empty set, a real answer


def test_unreadable_samples_abstain_and_a_failed_sample_fails_the_pool():
    texts = ["I am not sure.", "Final answer: 4, 9", "Final answer: 9", "Final answer: none"]
    res, _, _ = vote_on(texts, min_share=0.5)  # 3 usable -> 2 votes needed
    assert res.info["usable"] == 3
    assert res.answer == "9"
    # one failed call: no vote among the survivors, the pool is kept for the record
    partial, _, _ = vote_on([None, *texts], min_share=0.5)
    assert partial.answer is None and partial.status == "server_error"
    assert partial.info["failed_samples"] == 1 and len(partial.samples) == 5
    all_failed, _, _ = vote_on([None, None])
    assert all_failed.answer is None and all_failed.status == "server_error"


def test_answer_is_in_the_scorers_canonical_form():
    # case-insensitive identity (c3 == C3), natural order, as the set_f1 scorer keys answers
    res, _, _ = vote_on(["Final answer: C12, c3", "Final answer: C3, C12"], min_votes=2)
    scorer = make_scorer(ScorerSpec(type="set_f1"))
    assert res.answer == scorer.extract("Final answer: c3, C12") == "c3, C12"
    assert scorer.score(res.answer, ["C3", "C12"]).correct is True
    # `extract: json` has no final-answer line: the kept set is extracted from JSON instead
    res, _, _ = vote_on(
        ['{"answer": [2, 5]}', '{"answer": [5]}'],
        ScorerSpec(type="set_f1", extract="json"),
        min_votes=2,
    )
    assert res.answer == "5"


def test_bad_knobs_are_user_errors():
    for knobs in ({"min_votes": 0}, {"min_share": 0.0}, {"min_share": 1.5}, {"n": 0}):
        with pytest.raises(UserError):
            resolve("set_vote", knobs, "suite.yaml: configs[cv]")


@pytest.fixture(scope="module")
def contracts(tmp_path_factory) -> pd.DataFrame:
    suite = load(ROOT / "suites" / "contracts.yaml")
    suite.configs = [c for c in suite.configs if c.name in ("single", "clause_vote")]
    out: Path = tmp_path_factory.mktemp("contracts")
    result = runner.run(suite, out_dir=out, run_id="cv", use_cache=False)
    assert result.status == "complete"
    recs = pd.read_json(out / "cv" / "records.jsonl", lines=True)
    recs["recall"] = recs.metrics.map(lambda m: m["recall"])
    recs["subtlety"] = recs.strata.map(lambda s: s["subtlety"])
    return recs


def test_contracts_clause_vote_cuts_missed_clauses_at_several_fold_latency(contracts):
    by = contracts.groupby("config")
    recall, latency = by.recall.mean(), by.latency_s.mean()
    assert recall["clause_vote"] > recall["single"] + 0.1  # measured 0.87 vs 0.67
    subtle = contracts[contracts.subtlety == "subtle"].groupby("config").recall.mean()
    assert subtle["clause_vote"] > subtle["single"] + 0.15  # measured 0.82 vs 0.55
    assert by.score.mean()["clause_vote"] > by.score.mean()["single"]  # set F1
    assert latency["clause_vote"] > 2.0 * latency["single"]  # measured about 3x
    cv = contracts[contracts.config == "clause_vote"]
    assert (cv.samples.map(len) == 9).all()  # the pool of max(n) is kept per record
    assert (cv.n_calls == 9).all()
