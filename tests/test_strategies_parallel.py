"""self_consistency (weighted), best_of_n, adaptive_consistency: calls, cost, critical path."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from strategies_fake import FakeClient, make_ctx, run, total_cost

from tts_bench.errors import UserError
from tts_bench.strategies import resolve
from tts_bench.strategies.adaptive import beta_confidence
from tts_bench.strategies.base import Sample
from tts_bench.strategies.parallel import vote

HARD = "4 9 13 2 8 5"
TRUTH = str(sum(map(int, HARD.split())))


def pipelined_latency(calls) -> float:
    """Each branch samples then judges candidate i: the slowest branch's sum."""
    by_branch: dict[int, float] = defaultdict(float)
    for c in calls:
        by_branch[c.sample_index] += c.latency_s
    return max(by_branch.values())


def test_self_consistency_pool_cost_and_max_latency():
    ctx = make_ctx(HARD)
    res, latency = run(resolve("self_consistency", {"n": [1, 2, 4, 8]}, "t"), ctx)
    assert [c.role for c in ctx.calls] == ["sample"] * 8
    assert sorted(c.sample_index for c in ctx.calls) == list(range(8))
    assert latency == pytest.approx(max(c.latency_s for c in ctx.calls))
    assert len(res.samples) == 8
    assert sum(s.cost_usd for s in res.samples) == pytest.approx(total_cost(ctx))


def test_weighted_by_judge_counts_judge_calls_and_pipelines_them():
    ctx = make_ctx(HARD)
    res, latency = run(resolve("self_consistency", {"n": 5, "weighted": "judge"}, "t"), ctx)
    roles = [c.role for c in ctx.calls]
    assert roles.count("sample") == 5 and roles.count("judge") == 5
    assert latency == pytest.approx(pipelined_latency(ctx.calls))
    assert latency < sum(c.latency_s for c in ctx.calls)
    assert all(s.score is not None and 0 <= s.score <= 10 for s in res.samples)
    assert res.info["weighted"] == "judge"


def test_weighted_vote_can_overturn_the_majority():
    ctx = make_ctx(HARD)
    samples = [Sample(text="", answer=a) for a in ("1", "1", "2")]
    assert vote(ctx, samples).answer == "1"
    assert vote(ctx, samples, [0.1, 0.1, 0.9]).answer == "2"
    assert vote(ctx, samples, [0.1, 0.1, 0.9]).confidence == pytest.approx(0.9 / 1.1)


def test_weighted_by_logprob_uses_the_providers_logprobs():
    ctx = make_ctx(HARD, client=FakeClient(logprobs=True))
    res, _ = run(resolve("self_consistency", {"n": 4, "weighted": "logprob"}, "t"), ctx)
    assert all(s.score == pytest.approx(math.exp(s.logprob)) for s in res.samples)
    assert len(ctx.calls) == 4


def test_best_of_n_judges_each_candidate_and_keeps_the_top_score():
    ctx = make_ctx(HARD)
    res, latency = run(resolve("best_of_n", {"n": [1, 2, 6]}, "t"), ctx)
    roles = [c.role for c in ctx.calls]
    assert roles.count("sample") == 6 and roles.count("judge") == 6
    assert latency == pytest.approx(pipelined_latency(ctx.calls))
    assert total_cost(ctx) == pytest.approx(sum(c.cost_usd for c in ctx.calls))
    best = max(s.score for s in res.samples)
    chosen = res.samples[res.info["chosen_index"]]
    assert chosen.score == best and res.answer == chosen.answer
    assert res.confidence == pytest.approx(best / 10)


def test_best_of_n_judge_override_model_and_prompt():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    from tts_bench.prompts import ROLE_HEADERS

    prompt = (
        ROLE_HEADERS["judge"] + "\n### Problem\n{problem}\n### Candidate\n{candidate}\nScore it."
    )
    knobs = {"n": 3, "judge": {"model": "fake/good", "prompt": prompt}}
    run(resolve("best_of_n", knobs, "t"), ctx)
    judged = [e for e in client.log if e.role == "judge"]
    assert len(judged) == 3 and all(e.spec.model == "fake/good" for e in judged)
    assert all(e.messages[-1]["content"].endswith("Score it.") for e in judged)
    with pytest.raises(UserError, match="judge: unknown key"):
        resolve("best_of_n", {"judge": {"modle": "x"}}, "t")
    with pytest.raises(UserError, match="candidate"):
        resolve("best_of_n", {"judge": {"prompt": "{problem} only"}}, "t")


def test_best_of_n_programmatic_and_user_selectors_make_no_judge_calls():
    ctx = make_ctx(HARD, client=FakeClient(logprobs=True))
    res, latency = run(resolve("best_of_n", {"n": 4, "selector": "scorer"}, "t"), ctx)
    assert [c.role for c in ctx.calls] == ["sample"] * 4
    assert res.answer == max(res.samples, key=lambda s: s.score).answer
    assert latency == pytest.approx(max(c.latency_s for c in ctx.calls))
    ctx = make_ctx(HARD)
    res, _ = run(
        resolve("best_of_n", {"n": 4, "selector": "strategy_plugin_example:shortest"}, "t"), ctx
    )
    assert len(ctx.calls) == 4
    assert len(res.text) == min(len(s.text) for s in res.samples)
    with pytest.raises(UserError, match="cannot load selector"):
        resolve("best_of_n", {"selector": "nowhere.module:fn"}, "t")


def test_best_of_n_with_a_noisy_judge_beats_one_sample_but_not_pass_at_n():
    single = best = pass_n = 0
    items = 120
    for i in range(items):
        q = f"{i % 17 + 1} 9 {i % 5 + 2} 8 5"
        truth = str(sum(map(int, q.split())))
        ctx = make_ctx(q, item_id=f"i{i}")
        res, _ = run(resolve("best_of_n", {"n": 4}, "t"), ctx)
        single += res.samples[0].answer == truth
        best += res.answer == truth
        pass_n += any(s.answer == truth for s in res.samples)
    assert single + 0.1 * items < best < pass_n


def test_beta_rule_matches_the_posterior_integral():
    from scipy import integrate
    from scipy.stats import beta

    for a, b in [(3, 0), (4, 0), (5, 1), (6, 2), (2, 2)]:
        integral, _ = integrate.quad(beta.pdf, 0.5, 1, args=(a + 1, b + 1))
        assert beta_confidence(a, b) == pytest.approx(integral, abs=1e-9)
    assert beta_confidence(3, 0) == pytest.approx(1 - 0.5**4)


def test_beta_rule_equals_the_analysis_replay_and_scipy_stats():
    # the live rule and the offline replay must stop at the same counts
    from scipy.stats import beta

    from tts_bench.analysis.adaptive import beta_prob

    grid = np.arange(0, 41)
    top, second = np.meshgrid(grid, grid, indexing="ij")
    replay = beta_prob(top, second)
    for a in grid:
        for b in grid:
            live = beta_confidence(int(a), int(b))
            assert live == replay[a, b] == float(beta.sf(0.5, a + 1, b + 1)), (a, b)


def batched_latency(calls, batch: int) -> float:
    groups: dict[int, float] = defaultdict(float)
    for c in calls:
        groups[c.sample_index // batch] = max(groups[c.sample_index // batch], c.latency_s)
    return sum(groups.values())


def test_adaptive_beta_stops_after_one_batch_when_samples_agree():
    ctx = make_ctx(HARD, model="fake/good", temperature=0.0)  # every sample the same answer
    res, latency = run(resolve("adaptive_consistency", {"n_max": 16, "batch": 4}, "t"), ctx)
    assert res.info["stopped_at"] == 4 == len(ctx.calls) == len(res.samples)
    assert latency == pytest.approx(max(c.latency_s for c in ctx.calls))
    assert res.answer == TRUTH


@pytest.mark.parametrize(
    "knobs",
    [
        {"rule": "beta", "batch": 2},
        {"rule": "esc", "window": 4},
        {"rule": "majority", "share": 0.8, "batch": 3},
    ],
)
def test_adaptive_batches_add_latency_and_respect_n_max(knobs):
    drawn = []
    for i in range(30):
        ctx = make_ctx(f"{i + 3} 9 13 2 8 5", model="fake/mid", item_id=f"i{i}")
        res, latency = run(resolve("adaptive_consistency", {"n_max": 12, **knobs}, "t"), ctx)
        size = knobs.get("batch", knobs.get("window"))
        assert len(ctx.calls) == res.info["stopped_at"] == len(res.samples) <= 12
        assert sorted(c.sample_index for c in ctx.calls) == list(range(len(ctx.calls)))
        assert latency == pytest.approx(batched_latency(ctx.calls, size))
        assert res.info["batches"] == math.ceil(len(ctx.calls) / size)
        drawn.append(len(ctx.calls))
    assert min(drawn) < 12 and max(drawn) > min(drawn)  # it adapts to the item


def test_adaptive_knob_errors():
    with pytest.raises(UserError, match="rule"):
        resolve("adaptive_consistency", {"rule": "bayes"}, "t")
    with pytest.raises(UserError, match="threshold"):
        resolve("adaptive_consistency", {"threshold": 1.5}, "t")
