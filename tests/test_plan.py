"""`plan`: the static estimate against a real simulator run, call counts from knobs, prices,
tokenizers and the warnings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import demo_suite
from tts_bench import runner
from tts_bench.plan import plan_suite
from tts_bench.suite import parse

SUITES = Path(__file__).resolve().parents[1] / "suites"


def _suite(configs: list[dict], size: int = 100, **top) -> object:
    data = demo_suite()
    data["dataset"]["sample"]["size"] = size
    data["configs"] = configs
    data["baseline"] = configs[0]["name"]
    data["gates"] = []
    data.update(top)
    return parse(data, "suite", SUITES)


MEASURED = [
    {"name": "single", "strategy": "single"},
    {"name": "cot", "strategy": "cot"},
    {"name": "sc", "strategy": "self_consistency", "n": [1, 3, 5], "temperature": 0.7},
    {"name": "large", "strategy": "single", "model": "sim/large"},
]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    suite = _suite(MEASURED)
    res = runner.run(suite, out_dir=tmp_path_factory.mktemp("plan"), run_id="r", use_cache=False)
    actual: dict[str, dict[str, float]] = {}
    for r in res.records:
        a = actual.setdefault(r["config"], {"cost": 0.0, "calls": 0, "out": 0})
        a["cost"] += r["cost_usd"]
        a["calls"] += r["n_calls"]
        a["out"] += r["output_tokens"]
    return suite, res.run_dir, actual


def test_static_estimate_is_within_25_percent_of_a_simulator_run(measured):
    suite, _, actual = measured
    rep = plan_suite(suite)
    for c in rep.configs:
        a = actual[c.config]
        assert c.calls == a["calls"], c.config  # no adaptive stopping here: counts are exact
        assert c.cost_usd == pytest.approx(a["cost"], rel=0.25), c.config
        print(
            f"{c.config}: plan ${c.cost_usd:.5f} vs actual ${a['cost']:.5f} "
            f"({100 * (c.cost_usd / a['cost'] - 1):+.1f}%)"
        )
    assert rep.total_cost_usd == pytest.approx(sum(a["cost"] for a in actual.values()), rel=0.25)


def test_from_run_uses_observed_means(measured):
    suite, run_dir, actual = measured
    rep = plan_suite(suite, from_run=run_dir)
    for c in rep.configs:
        assert c.cost_usd == pytest.approx(actual[c.config]["cost"], rel=1e-6)
        assert c.output_tokens == pytest.approx(actual[c.config]["out"])
        assert "observed" in c.notes[0]
    # Var(d) from the run replaces the assumed 0.2 in the power warning
    assert any("observed in" in w and "Var(d) =" in w for w in rep.warnings)


def test_call_counts_follow_the_knobs():
    rep = plan_suite(
        _suite(
            [
                {"name": "single", "strategy": "single"},
                {"name": "cot", "strategy": "cot"},
                {
                    "name": "beam",
                    "strategy": "beam_search",
                    "beam_width": 2,
                    "expand": 3,
                    "max_depth": 4,
                },
                {"name": "refl", "strategy": "reflection", "rounds": 2},
                {"name": "bon", "strategy": "best_of_n", "n": [2, 4]},
                {
                    "name": "route",
                    "strategy": "router",
                    "routes": {"easy": "single", "hard": "bon"},
                },
                {"name": "mcts", "strategy": "mcts", "iterations": 4, "expand": 2, "depth": 5},
            ],
            size=10,
        )
    )
    per_item = {c.config: c.calls / 10 for c in rep.configs}
    assert (
        per_item["beam"] == (3 + 3 * 2 * 3) * 2
    )  # expansions (root, then 2 beams × 3 × 3 levels) + values
    assert per_item["refl"] == 5  # at most 2 × rounds + 1
    assert per_item["bon"] == 4 + 4  # samples + one judge each
    assert per_item["route"] == pytest.approx(1 + 0.5 * 1 + 0.5 * 8)  # classify + uniform route mix
    assert per_item["mcts"] == 4 * (2 + 5 + 1)
    by = {c.config: c for c in rep.configs}
    assert by["cot"].output_tokens > 3 * by["single"].output_tokens
    assert any("at most" in n for n in by["beam"].notes)


def test_prices_tokenizers_and_warnings():
    rep = plan_suite(
        _suite(
            [
                {"name": "single", "strategy": "single"},
                {"name": "mini", "strategy": "single", "model": "gpt-4o-mini"},
                {"name": "mystery", "strategy": "cot", "model": "acme/unreleased-model"},
                {"name": "priced", "strategy": "single", "model": "acme/priced"},
                {"name": "served", "strategy": "single", "model": "openai/sim-small"},
            ],
            size=30,
            pricing={"acme/priced": {"input": 1.0, "output": 2.0}},
            limits={"max_cost_usd": 1e-6},
        )
    )
    by = {c.config: c for c in rep.configs}
    assert by["single"].price_source == "sim/small: simulator profile"
    assert by["mini"].price_source == "gpt-4o-mini: litellm price map" and by["mini"].cost_usd > 0
    assert by["priced"].price_source == "acme/priced: suite pricing"
    # the simulator served by `sim serve` is priced like the client prices it
    assert by["served"].price_source == "openai/sim-small: simulator profile"
    assert by["served"].cost_usd == pytest.approx(by["single"].cost_usd, rel=0.5)
    assert by["mystery"].cost_usd is None and rep.total_cost_usd is None
    assert "gpt-4o-mini: litellm's tokenizer" in rep.tokenizer_note
    assert "acme/unreleased-model: an estimate of 4 characters per token" in rep.tokenizer_note
    text = "\n".join(rep.warnings)
    assert "acme/unreleased-model: no known price" in text
    assert "latency assumed" in text
    # 30 items: overall and every stratum below 100, with the MDE at the assumed Var(d) = 0.2
    assert f"±{100 * 2.8 * math.sqrt(0.2 / 30):.1f} pts" in text and "Var(d) assumed 0.2" in text


def test_budget_warning():
    rep = plan_suite(
        _suite([{"name": "single", "strategy": "single"}], size=20, limits={"max_cost_usd": 1e-6})
    )
    assert any("exceeds limits.max_cost_usd" in w for w in rep.warnings)
