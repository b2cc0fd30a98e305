"""beam_search, tree_of_thoughts (bfs/dfs), mcts: counted calls, nodes, critical path."""

from __future__ import annotations

from collections import defaultdict

import pytest
from strategies_fake import FakeClient, make_ctx, run, total_cost

from tts_bench.errors import UserError
from tts_bench.strategies import resolve

HARD = "4 9 13 2 8 5"
TRUTH = str(sum(map(int, HARD.split())))


def parent_of(partial: str, role: str) -> str:
    """The state a call belongs to: an expansion's partial, or a value call's parent."""
    lines = [] if partial in (None, "(none)") else partial.splitlines()
    return "\n".join(lines if role == "next_step" else lines[:-1])


def level_latency(client: FakeClient) -> float:
    """Per level: the slowest (max expansion + max evaluation) over the states expanded in
    parallel; levels add."""
    exp: dict[str, float] = defaultdict(float)
    val: dict[str, float] = defaultdict(float)
    for e in client.log:
        key = parent_of(e.partial, e.role)
        bucket = exp if e.role == "next_step" else val
        bucket[key] = max(bucket[key], e.latency_s)
    levels: dict[int, float] = defaultdict(float)
    for key in exp:
        depth = len(key.splitlines()) if key else 0
        levels[depth] = max(levels[depth], exp[key] + val.get(key, 0.0))
    return sum(levels.values())


def check_accounting(ctx, client):
    assert len(ctx.calls) == len(client.log)
    assert [c.latency_s for c in ctx.calls] == [e.latency_s for e in client.log]
    assert {c.role for c in ctx.calls} <= {"expand", "value", "rollout"}
    assert total_cost(ctx) == pytest.approx(sum(c.cost_usd for c in ctx.calls))


def test_beam_search_levels_nodes_and_latency():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    res, latency = run(
        resolve("beam_search", {"beam_width": 2, "expand": 3, "max_depth": 10}, "t"), ctx
    )
    check_accounting(ctx, client)
    values = [c for c in ctx.calls if c.role == "value"]
    assert res.info["nodes"] == len(values) > 0  # one evaluation per distinct child
    assert len([c for c in ctx.calls if c.role == "expand"]) % 3 == 0
    assert latency == pytest.approx(level_latency(client))
    assert latency < sum(c.latency_s for c in ctx.calls)
    assert res.info["finished"] and res.text.splitlines()[-1].startswith("Final answer")
    assert res.answer == TRUTH


def test_tree_of_thoughts_bfs_averages_n_evaluate_values():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    knobs = {"breadth": 2, "propose": 2, "depth": 10, "n_evaluate": 3}
    res, latency = run(resolve("tree_of_thoughts", knobs, "t"), ctx)
    check_accounting(ctx, client)
    values = [c for c in ctx.calls if c.role == "value"]
    assert len(values) == 3 * res.info["nodes"]
    assert sorted({c.sample_index for c in values}) == [0, 1, 2]
    assert latency == pytest.approx(level_latency(client))
    assert res.info["method"] == "bfs"


def test_tree_of_thoughts_dfs_is_sequential_across_nodes():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    knobs = {"method": "dfs", "breadth": 2, "depth": 10, "n_evaluate": 1, "prune": 0.5}
    res, latency = run(resolve("tree_of_thoughts", knobs, "t"), ctx)
    check_accounting(ctx, client)
    exp: dict[str, float] = defaultdict(float)
    val: dict[str, float] = defaultdict(float)
    tail = 0.0  # a greedy (T=0) write-out of the best state when no branch finished
    for e in client.log:
        if e.spec.temperature == 0.0:
            tail += e.latency_s
            continue
        bucket = exp if e.role == "next_step" else val
        key = parent_of(e.partial, e.role)
        bucket[key] = max(bucket[key], e.latency_s)
    assert latency == pytest.approx(sum(exp[k] + val.get(k, 0.0) for k in exp) + tail)
    assert res.info["method"] == "dfs" and res.info["finished"] and res.answer is not None


def test_mcts_iterations_rollouts_and_latency():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    knobs = {"iterations": 5, "exploration": 1.4, "depth": 10, "expand": 2, "rollout": "random"}
    res, latency = run(resolve("mcts", knobs, "t"), ctx)
    check_accounting(ctx, client)
    roles = [c.role for c in ctx.calls]
    assert res.info["rollout_steps"] == roles.count("rollout") > 0
    kids: dict[str, set[str]] = defaultdict(set)
    for e, c in zip(client.log, ctx.calls, strict=True):
        if c.role == "expand":
            kids[e.partial].add(e.text)
    assert res.info["nodes"] == sum(len(k) for k in kids.values()) > 0
    # Sibling expansions run in parallel; rollouts and evaluations are sequential.
    exp: dict[str, float] = defaultdict(float)
    for e, c in zip(client.log, ctx.calls, strict=True):
        if c.role == "expand":
            exp[e.partial] = max(exp[e.partial], e.latency_s)
    serial = sum(c.latency_s for c in ctx.calls if c.role in ("rollout", "value"))
    assert latency == pytest.approx(sum(exp.values()) + serial)
    assert roles.count("value") <= 5
    assert res.answer is not None


def test_mcts_greedy_rollouts_run_at_temperature_zero_and_value_rollout_makes_none():
    client = FakeClient()
    ctx = make_ctx(HARD, client=client)
    run(resolve("mcts", {"iterations": 3, "rollout": "greedy"}, "t"), ctx)
    rollouts = [e for e, c in zip(client.log, ctx.calls, strict=True) if c.role == "rollout"]
    assert rollouts and all(e.spec.temperature == 0.0 for e in rollouts)
    ctx = make_ctx(HARD)
    res, _ = run(resolve("mcts", {"iterations": 4, "rollout": "value"}, "t"), ctx)
    assert res.info["rollout_steps"] == 0
    assert {c.role for c in ctx.calls} == {"expand", "value"}


def test_search_beats_a_plain_answer_on_the_fake_world():
    wins = {"single": 0, "beam_search": 0, "mcts": 0}
    knobs = {"single": {}, "beam_search": {"beam_width": 2, "expand": 3}, "mcts": {"iterations": 8}}
    for i in range(25):
        q = f"{i + 2} 9 13 2 8 {i % 7 + 1}"
        truth = str(sum(map(int, q.split())))
        for name in wins:
            ctx = make_ctx(q, model="fake/mid", item_id=f"i{i}")
            res, _ = run(resolve(name, knobs[name], "t"), ctx)
            wins[name] += res.answer == truth
    assert wins["beam_search"] > wins["single"] + 8
    assert wins["mcts"] > wins["single"] + 8


def test_search_knob_errors():
    with pytest.raises(UserError, match="beam_width"):
        resolve("beam_search", {"beam_width": 0}, "t")
    with pytest.raises(UserError, match="method"):
        resolve("tree_of_thoughts", {"method": "astar"}, "t")
    with pytest.raises(UserError, match="rollout"):
        resolve("mcts", {"rollout": "heavy"}, "t")
