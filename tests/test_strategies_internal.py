"""single, cot (few-shot), reflection, reasoning-effort pass-through, fallback."""

from __future__ import annotations

import pytest
from strategies_fake import FakeClient, make_ctx, run, total_cost

from tts_bench.errors import UserError
from tts_bench.strategies import resolve

HARD = "4 9 13 2 8 5"


def test_cot_few_shot_examples_are_chat_turns_before_the_problem():
    client = FakeClient()
    ctx = make_ctx(
        HARD, client=client, examples=[("Add: 1 2", "Step 1: 1 + 2 = 3.\nFinal answer: 3")]
    )
    res, _ = run(resolve("cot", {}, "t"), ctx)
    msgs = client.log[0].messages
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"].startswith("Add: 1 2") and "step by step" in msgs[1]["content"]
    assert msgs[-1]["content"].startswith(f"Add: {HARD}")
    assert res.answer is not None
    run(resolve("cot", {"examples": False}, "t"), ctx)
    assert [m["role"] for m in client.log[1].messages] == ["system", "user"]


def test_reflection_rounds_cost_and_latency_add_up():
    # Find items where the first answer is wrong so the critic finds an error.
    for i in range(40):
        ctx = make_ctx(HARD, model="fake/bad", item_id=f"i{i}", client=FakeClient())
        ctx.model = ctx.model.with_(temperature=0.7 + i / 1000)
        res, latency = run(resolve("reflection", {"rounds": 3}, "t"), ctx)
        roles = [c.role for c in ctx.calls]
        assert roles[0] == "sample"
        assert roles[1:3] == ["critique", "refine"] or roles[1:] == ["critique"]
        assert latency == pytest.approx(sum(c.latency_s for c in ctx.calls))
        assert total_cost(ctx) == pytest.approx(sum(c.cost_usd for c in ctx.calls))
        assert res.info["rounds"] == roles.count("critique") <= 3
        if res.info["stopped_early"]:
            assert res.answer == str(sum(map(int, HARD.split())))
        if roles.count("refine") >= 1:
            return
    pytest.fail("no item needed a revision")


def test_reflection_stops_when_critic_finds_nothing_and_uses_critic_model():
    ctx = make_ctx(HARD, model="fake/good", temperature=0.0)
    res, _ = run(resolve("reflection", {"rounds": 3, "critic": "fake/critic"}, "t"), ctx)
    assert [c.role for c in ctx.calls] == ["sample", "critique"]
    assert ctx.calls[1].model == "fake/critic"
    assert res.info == {"rounds": 1, "revisions": 0, "stopped_early": True}


STRATEGIES = [
    ("single", {}),
    ("cot", {}),
    ("reflection", {"rounds": 2}),
    ("self_consistency", {"n": 3, "weighted": "judge"}),
    ("best_of_n", {"n": 3}),
    ("adaptive_consistency", {"n_max": 8}),
    ("beam_search", {"beam_width": 2, "expand": 2, "max_depth": 8}),
    ("tree_of_thoughts", {"breadth": 2, "propose": 2, "depth": 8}),
    ("tree_of_thoughts", {"method": "dfs", "breadth": 2, "depth": 8}),
    ("mcts", {"iterations": 3, "depth": 8}),
]


@pytest.mark.parametrize(("name", "knobs"), STRATEGIES)
def test_reasoning_effort_reaches_every_call(name, knobs):
    client = FakeClient()
    ctx = make_ctx(HARD, client=client, params={"reasoning_effort": "high", "thinking_budget": 900})
    run(resolve(name, knobs, "t"), ctx)
    assert len(client.log) >= 1
    assert all(e.spec.params.get("reasoning_effort") == "high" for e in client.log)
    assert all(e.spec.params.get("thinking_budget") == 900 for e in client.log)


@pytest.mark.parametrize(("name", "knobs"), STRATEGIES)
def test_fallback_serves_when_the_primary_fails(name, knobs):
    from tts_bench.llm.types import ModelSpec

    ctx = make_ctx(
        HARD, model="fail/primary", fallback=ModelSpec(model="fake/good", temperature=0.7)
    )
    res, latency = run(resolve(name, knobs, "t"), ctx)
    primary = [c for c in ctx.calls if c.model == "fail/primary"]
    served = [c for c in ctx.calls if c.model == "fake/good"]
    assert len(primary) == len(served) >= 1  # every request failed once, then the fallback answered
    assert all(c.status == "server_error" for c in primary)
    assert ctx.info["fallback_served"] == len(served)
    assert res.status == "ok" and res.answer is not None
    if name in ("single", "cot", "reflection"):  # purely sequential: every latency adds
        assert latency == pytest.approx(sum(c.latency_s for c in ctx.calls))


def test_every_request_failing_is_an_infrastructure_status():
    for name, knobs in STRATEGIES:
        ctx = make_ctx(HARD, model="fail/primary")
        res, _ = run(resolve(name, knobs, "t"), ctx)
        assert res.answer is None and res.status == "server_error", name


def test_bad_knobs_are_one_line_user_errors():
    with pytest.raises(UserError, match="rounds"):
        resolve("reflection", {"rounds": -1}, "suite.yaml: configs[r]")
    with pytest.raises(UserError, match="unknown key 'round'"):
        resolve("reflection", {"round": 1}, "suite.yaml: configs[r]")
