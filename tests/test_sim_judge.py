"""The simulated judge and the open-ended support task: the judge's measured error rate and
length bias match its profile (exact binomial tests on a few hundred draws), a vote of three
removes random errors but not the bias, it reads the rubric and the reference (never the
hidden truth), and on the support suite the judge alone overstates accuracy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest

from tests.conftest import ROOT
from tts_bench import scoring
from tts_bench.data.builtin import support
from tts_bench.runner import Runner
from tts_bench.scoring.judge import HEADER, Judge
from tts_bench.sim import judge as sim_judge
from tts_bench.sim.model import simulate
from tts_bench.sim.tasks import identify
from tts_bench.sim.tasks_support import FILLER
from tts_bench.suite import ScorerSpec, load

RUBRIC = "Pass if the reply makes every point the policy requires and promises nothing forbidden."
E, B, LONG = 0.1, 0.4, 60
PROFILES = {
    "tester": {"base": "judge", "judge_error": E, "judge_length_bias": B, "judge_long_words": LONG}
}
N = 400
ROWS = support.generate(N, seed=11)
ALPHA = 1e-3  # a draw outside the 99.9% binomial interval fails


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.,])\s+(?=[A-Z])", text)


def bad(row: dict) -> str:
    """The reference without the sentence that makes its first required point."""
    parts = _sentences(row["answer"])
    out = " ".join(parts[:1] + parts[2:])
    assert not support.truth(row, out)
    return out


def long(text: str) -> str:
    parts = _sentences(text)
    i = 0
    while len(" ".join(parts).split()) < LONG:
        parts.insert(1, FILLER[i % len(FILLER)])
        i += 1
    return " ".join(parts)


def verdicts(
    answers: list[str],
    *,
    rubric: str = RUBRIC,
    reference: bool = True,
    k: int = 1,
    profiles: dict | None = None,
    model: str = "sim/tester",
) -> list[bool]:
    """The judge's pass / fail per answer (a majority of k samples at temperature 0.7)."""
    j = Judge(
        ScorerSpec(
            type="judge", model=model, rubric=rubric, judges=k, temperature=0.7 if k > 1 else 0.0
        )
    )
    out = []
    for row, answer in zip(ROWS, answers, strict=True):
        msgs = j.prompt(row["question"], answer, row["answer"] if reference else None)
        votes = []
        for i in range(k):
            text = simulate(
                model,
                msgs,
                temperature=0.7 if k > 1 else 0.0,
                max_tokens=256,
                sample_index=i,
                profiles=profiles or PROFILES,
            ).text
            label = j.parse(text)
            assert label is not None, text
            votes.append(label == "pass")
        out.append(sum(votes) * 2 > k)
    return out


def within(hits: int, p: float, n: int = N) -> bool:
    return binomtest(hits, n, p).pvalue > ALPHA


GOOD = [r["answer"] for r in ROWS]
BAD = [bad(r) for r in ROWS]


def test_truth_checker() -> None:
    for row in ROWS[:40]:
        assert support.truth(row, row["answer"])
        assert not support.truth(row, bad(row))
    refund = next(r for r in ROWS if r["scenario"] == "refund" and r["difficulty"] == "hard")
    assert not support.truth(refund, refund["answer"] + " You will get a full refund.")
    assert support.truth(refund, long(refund["answer"]))  # padding changes nothing


def test_headers_agree_and_the_prompt_is_recognised() -> None:
    assert sim_judge.HEADER == HEADER
    j = Judge(ScorerSpec(type="judge", model="sim/judge", rubric=RUBRIC))
    text = j.prompt(ROWS[0]["question"], "Hi.", None)[0]["content"]
    assert sim_judge.role_of(text) == "eval_judge"
    assert identify(ROWS[0]["question"])[0] == "support"


def test_error_rate_and_length_bias_match_the_profile() -> None:
    good_short = verdicts(GOOD)
    bad_short = verdicts(BAD)
    bad_long = verdicts([long(a) for a in BAD])
    good_long = verdicts([long(a) for a in GOOD])
    assert within(N - sum(good_short), E)  # a good reply failed: the error rate
    assert within(N - sum(good_long), E)  # the bias never fails a good reply
    assert within(sum(bad_short), E)  # a short bad reply passed: the error rate
    assert within(sum(bad_long), B * (1 - E) + (1 - B) * E)  # a long one: bias and error
    # and the test has power: a judge without the bias would fail the last line
    assert not within(sum(bad_long), E)


def test_a_vote_of_three_removes_errors_not_the_bias() -> None:
    flip = 3 * E**2 - 2 * E**3  # a majority of three independent errors
    good = verdicts(GOOD, k=3)
    bad_long = verdicts([long(a) for a in BAD], k=3)
    assert within(N - sum(good), flip)
    # the bias is drawn once per reply: shared by the three judges, so it survives the vote
    assert within(sum(bad_long), B * (1 - flip) + (1 - B) * flip)


def test_it_reads_the_rubric_and_works_without_a_reference() -> None:
    exact = {"tester": {"base": "judge", "judge_error": 0.0, "judge_length_bias": 0.0}}
    assert not any(verdicts(BAD, profiles=exact))
    assert not any(verdicts(BAD, profiles=exact, reference=False))  # the policy's points
    assert all(verdicts(GOOD, profiles=exact, reference=False))
    # a rubric about promises only: a missing point is not its business
    assert all(verdicts(BAD, profiles=exact, rubric="Fail any reply that makes a promise."))


def test_malformed_verdicts() -> None:
    prof = {"tester": {"base": "judge", "judge_malformed": 1.0}}
    j = Judge(ScorerSpec(type="judge", model="sim/tester", rubric=RUBRIC))
    msgs = j.prompt(ROWS[0]["question"], GOOD[0], GOOD[0])
    text = simulate("sim/tester", msgs, temperature=0.0, max_tokens=256, profiles=prof).text
    assert j.parse(text) is None


def _accuracies(tmp_path: Path) -> dict[str, tuple[float, float]]:
    suite = load(ROOT / "suites" / "support.yaml")
    res = Runner(suite, out_dir=tmp_path, preflight=False, use_cache=False).run()
    rows = {r["id"]: r for r in support.generate(**suite.dataset.params)}
    out: dict[str, Any] = {}
    for name in ("single", "cot", "large"):
        recs = [r for r in res.records if r["config"] == name]
        judged = sum(r["correct"] for r in recs) / len(recs)
        truth = sum(support.truth(rows[r["item_id"]], r["output"]) for r in recs) / len(recs)
        out[name] = (judged, truth)
    return out


def test_the_judge_alone_overstates_the_support_suite(tmp_path: Path) -> None:
    acc = _accuracies(tmp_path)
    over = {name: judged - truth for name, (judged, truth) in acc.items()}
    assert all(o > 0.03 for o in over.values())  # a length-biased judge passes long bad replies
    # the wordiest config (step by step) is flattered most ...
    assert over["cot"] > max(over["single"], over["large"]) + 0.03
    # ... so the judge ranks it above the large model, which the careful reviewer does not
    assert acc["cot"][0] > acc["large"][0] + 0.03
    assert acc["cot"][1] < acc["large"][1] + 0.01


def test_scoring_exports_stay() -> None:
    assert (
        scoring.make_scorer(ScorerSpec(type="judge", model="sim/judge", rubric="r")).mode == "raw"
    )


@pytest.mark.parametrize("name", ["arithmetic", "knowledge", "contracts", "tickets"])
def test_other_tasks_are_not_read_as_support(name: str) -> None:
    from tts_bench.data.builtin import generate

    for row in generate(name, {"size": 20})[:20]:
        found = identify(row["question"])
        assert found is None or found[0] != "support"
