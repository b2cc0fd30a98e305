"""`plan` shows the cost levers side by side (plan/levers.py): on demand, a pool as one
request of n, and in provider batches; the headline is the way the run will go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import demo_suite
from tts_bench import runner
from tts_bench.llm.pricing import PriceTable, cost_usd
from tts_bench.llm.types import Usage
from tts_bench.plan import plan_suite
from tts_bench.suite import parse

SUITES = Path(__file__).resolve().parents[1] / "suites"
N = 5


def _suite(mode: str, size: int = 60, pricing: dict | None = None, **defaults) -> object:
    data = demo_suite(pricing=pricing or {})
    data["dataset"]["sample"]["size"] = size
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, N], "temperature": 0.7},
    ]
    data["baseline"] = "single"
    data["defaults"] = {**data["defaults"], "pool_request": mode, **defaults}
    data["gates"] = []
    return parse(data, "suite", SUITES)


def test_pooled_figures_pay_the_prompt_once_per_request():
    rep = plan_suite(_suite("auto"))
    single, sc = rep.configs
    assert sc.pool_request == "n" and sc.pooled_requests == 60
    # the headline is the pooled run: every sample's tokens, the prompt once per item
    assert sc.calls == 60 * N
    on_demand = plan_suite(_suite("separate")).configs[1]
    assert on_demand.pool_request == "separate" and on_demand.calls == 60 * N
    assert on_demand.input_tokens == pytest.approx(N * sc.input_tokens, rel=1e-12)
    assert on_demand.output_tokens == pytest.approx(sc.output_tokens, rel=1e-12)
    # by hand: the invoice of the pooled token totals
    rate = PriceTable().rate("sim/small")
    usage = Usage(input_tokens=sc.input_tokens, output_tokens=sc.output_tokens)
    assert sc.cost_usd == pytest.approx(cost_usd(usage, rate), rel=1e-9)
    assert sc.pooled_cost_usd == sc.cost_usd < on_demand.cost_usd
    assert on_demand.pooled_cost_usd == sc.cost_usd  # the lever is shown either way
    assert sc.wall_s < on_demand.wall_s
    # the in-process simulator has no batch API: the batch price is unknown, never invented
    assert sc.batch_cost_usd is None and sc.batch_wall_s is not None
    assert "n-pooled" in sc.notes[-1] and "batch unknown" in sc.notes[-1]
    assert "n-pooled" not in single.notes[-1]  # no pool, no such lever
    assert "one request per sample" in on_demand.notes[-1]


def test_an_api_without_n_is_planned_one_request_per_sample():
    model = "anthropic/claude-3-5-haiku-latest"
    unpriced = plan_suite(_suite("n", model=model)).configs[1]
    assert unpriced.cost_usd is None and unpriced.pooled_cost_usd is None  # never invented
    assert "unknown" in unpriced.notes[-1]
    suite = _suite("n", pricing={model: {"input": 0.8, "output": 4.0}}, model=model)
    sc = plan_suite(suite).configs[1]
    assert sc.pool_request == "separate"
    assert sc.pooled_cost_usd is not None and sc.cost_usd is not None
    assert sc.cost_usd > sc.pooled_cost_usd  # shown, but not what the run does


@pytest.mark.parametrize("mode", ["separate", "n"])
def test_headline_is_within_25_percent_of_the_run(tmp_path, mode):
    suite = _suite(mode, size=40)
    rep = plan_suite(suite)
    res = runner.run(suite, out_dir=tmp_path, run_id="r", use_cache=False, preflight=False)
    for c in rep.configs:
        recs = [r for r in res.records if r["config"] == c.config]
        assert c.cost_usd == pytest.approx(sum(r["cost_usd"] for r in recs), rel=0.25)
        assert c.input_tokens == pytest.approx(sum(r["input_tokens"] for r in recs), rel=0.05)


def test_batch_figures_are_the_same_tokens_at_the_batch_price():
    """A model with batch prices (the suite's batch_input / batch_output): the batch column
    is the on-demand tokens at those rates, one round per kind of call."""
    from tts_bench.plan.estimate import BATCH_TURNAROUND_S

    price = {"input": 1e-6, "output": 2e-6, "batch_input": 0.5e-6, "batch_output": 1e-6}
    priced = plan_suite(_suite("separate", pricing={"sim/small": price}))
    single, sc = priced.configs
    assert sc.batch_cost_usd == pytest.approx(sc.cost_usd / 2, rel=1e-9)
    assert single.batch_cost_usd == pytest.approx(single.cost_usd / 2, rel=1e-9)
    assert sc.batch_wall_s == single.batch_wall_s == BATCH_TURNAROUND_S  # one round each
    no_batch = {"input": 1e-6, "output": 2e-6}  # a suite price without batch rates: unknown
    assert (
        plan_suite(_suite("separate", pricing={"sim/small": no_batch})).configs[1].batch_cost_usd
        is None
    )
