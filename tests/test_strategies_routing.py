"""router (llm / length / user classifiers) and user strategies loaded by `pkg.module:function`."""

from __future__ import annotations

import pytest
from strategies_fake import FakeClient, make_ctx, run, total_cost

from tts_bench.errors import UserError
from tts_bench.llm.types import ModelSpec
from tts_bench.strategies import resolve
from tts_bench.strategies.routing import parse_label

EASY, HARD = "4 9", "4 9 13 2 8 5"

# What the runner's delegate does: run another config's strategy in the SAME context with
# that config's model, so its calls land in this record.
CONFIGS = {
    "cheap": (resolve("single", {}, "t"), ModelSpec(model="fake/mid", temperature=0.0)),
    "strong": (
        resolve("self_consistency", {"n": 3}, "t"),
        ModelSpec(model="fake/good", temperature=0.7),
    ),
}


async def delegate(name, ctx):
    solve, spec = CONFIGS[name]
    saved = ctx.model
    ctx.model = spec
    try:
        return await solve(ctx)
    finally:
        ctx.model = saved


ROUTES = {"easy": "cheap", "hard": "strong"}


@pytest.mark.parametrize(("question", "label"), [(EASY, "easy"), (HARD, "hard")])
def test_llm_router_counts_the_classifier_and_the_routed_calls(question, label):
    client = FakeClient()
    ctx = make_ctx(question, client=client, delegate=delegate)
    knobs = {"routes": ROUTES, "classifier_model": "fake/classifier"}
    res, latency = run(resolve("router", knobs, "t"), ctx)
    assert res.info["route"] == label and res.info["routed_to"] == ROUTES[label]
    assert ctx.calls[0].role == "classify" and ctx.calls[0].model == "fake/classifier"
    routed = ctx.calls[1:]
    if label == "easy":
        assert [c.model for c in routed] == ["fake/mid"]
        assert latency == pytest.approx(ctx.calls[0].latency_s + routed[0].latency_s)
    else:
        assert [c.model for c in routed] == ["fake/good"] * 3 and res.samples is not None
        assert latency == pytest.approx(ctx.calls[0].latency_s + max(c.latency_s for c in routed))
    assert total_cost(ctx) == pytest.approx(sum(c.cost_usd for c in ctx.calls))
    assert ctx.model.model == "fake/mid"  # the delegate restored the router's own model


def test_length_router_makes_no_classifier_call():
    ctx = make_ctx(HARD, delegate=delegate)
    res, _ = run(
        resolve("router", {"routes": ROUTES, "classifier": "length", "threshold": 50}, "t"), ctx
    )
    assert res.info["route"] == "hard" and all(c.role == "sample" for c in ctx.calls)
    ctx = make_ctx(EASY, delegate=delegate)
    res, _ = run(
        resolve("router", {"routes": ROUTES, "classifier": "length", "threshold": 50}, "t"), ctx
    )
    assert res.info["route"] == "easy" and len(ctx.calls) == 1


def test_user_classifier_and_unparseable_replies_use_the_default_route():
    ctx = make_ctx(HARD, delegate=delegate)
    knobs = {"routes": ROUTES, "classifier": "strategy_plugin_example:by_terms"}
    res, _ = run(resolve("router", knobs, "t"), ctx)
    assert res.info["routed_to"] == "strong"
    assert parse_label("This looks HARD to me.", ["easy", "hard"]) == "hard"
    assert parse_label("uneasy", ["easy", "hard"]) is None
    ctx = make_ctx(HARD, model="fail/x", delegate=delegate)  # the classifier call fails
    res, _ = run(resolve("router", {"routes": ROUTES, "default": "easy"}, "t"), ctx)
    assert res.info["route"] == "easy" and ctx.calls[0].status == "server_error"


def test_router_knob_errors():
    with pytest.raises(UserError, match="routes"):
        resolve("router", {"routes": {}}, "suite.yaml: configs[r]")
    with pytest.raises(UserError, match="default"):
        resolve("router", {"routes": ROUTES, "default": "medium"}, "t")
    with pytest.raises(UserError, match="easy/hard"):
        resolve("router", {"routes": {"a": "cheap"}, "classifier": "length"}, "t")
    ctx = make_ctx(HARD)  # no delegate: the context cannot run another config
    with pytest.raises(UserError, match="cannot delegate"):
        run(resolve("router", {"routes": ROUTES, "classifier": "length"}, "t"), ctx)


def test_user_strategy_by_module_path():
    solve = resolve("strategy_plugin_example:draft_and_check", {"drafts": 3}, "t")
    ctx = make_ctx(HARD)
    res, latency = run(solve, ctx)
    assert [c.role for c in ctx.calls] == ["sample"] * 3 + ["judge"]
    drafts = ctx.calls[:3]
    assert latency == pytest.approx(max(c.latency_s for c in drafts) + ctx.calls[3].latency_s)
    assert len(res.samples) == 3 and "Score" in res.info["verdict"]
    with pytest.raises(UserError, match="unknown key 'draft'"):
        resolve("strategy_plugin_example:draft_and_check", {"draft": 3}, "t")
    with pytest.raises(UserError, match="cannot load strategy"):
        resolve("strategy_plugin_example:nope", {}, "t")
