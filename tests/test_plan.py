"""`plan`: the static estimate against a real simulator run, call counts from knobs, prices,
tokenizers and the warnings."""

from __future__ import annotations

import math
import re
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
    assert not any("--from" in w for w in rep.warnings)  # same suite, same items
    assert rep.tokenizer_note == ""  # nothing was counted: every figure was observed


def test_from_another_suite_warns_and_uses_only_configs_run_the_same_way(measured):
    suite, run_dir, actual = measured
    changed = [
        {"name": "single", "strategy": "single"},  # as run: observed
        {"name": "cot", "strategy": "cot", "max_tokens": 64},  # another max_tokens
        {"name": "sc", "strategy": "self_consistency", "n": 9, "temperature": 0.7},  # another n
        {"name": "large", "strategy": "cot", "model": "sim/large"},  # another strategy
        {"name": "new", "strategy": "single", "model": "sim/large"},  # not in the run
    ]
    other = _suite(changed, size=60, name="other-suite")
    rep = plan_suite(other, from_run=run_dir)
    text = "\n".join(rep.warnings)
    assert "that run is of suite 'demo', not 'other-suite'" in text
    assert "its items differ from this suite's (dataset fingerprint)" in text
    by = {c.config: c for c in rep.configs}
    assert by["single"].notes[0].startswith("observed in")
    assert by["single"].cost_usd == pytest.approx(actual["single"]["cost"] * 60 / 100)
    assert "ran it with max_tokens 512 (now 64): static estimate" in by["cot"].notes[0]
    assert "ran it with n [1, 3, 5] (now 9): static estimate" in by["sc"].notes[0]
    assert by["sc"].calls == 9 * 60  # the static count, not the observed 5 per item
    assert "strategy 'single' (now 'cot')" in by["large"].notes[0]
    assert by["new"].notes[0] == f"not in {run_dir}: static estimate"
    assert not any(
        n.startswith("observed") for c in "cot sc large new".split() for n in by[c].notes
    )
    assert rep.tokenizer_note == "input tokens: counted by the simulator for sim/large, sim/small"


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
    assert rep.tokenizer_note.startswith("input tokens: counted by the simulator for sim/small;")
    assert "counted by litellm's tokenizer for gpt-4o-mini;" in rep.tokenizer_note
    assert "estimated (chars/4, tokenizer unknown) for acme/priced, acme/unreleased-model" in (
        rep.tokenizer_note
    )
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


DEEP = {"name": "deep", "strategy": "cot", "model": "sim/reasoner", "reasoning_effort": "high"}


def test_warns_when_reasoning_and_answer_do_not_fit_in_max_tokens(tmp_path):
    configs = [{"name": "small", "strategy": "single"}, DEEP]
    tight = _suite(configs, size=20)  # the demo suite's max_tokens: 512
    (warning,) = [w for w in plan_suite(tight).warnings if w.startswith("config ")]
    expected = re.fullmatch(
        r"config deep: expected ~(\d+) reasoning \+ (\d+) output tokens exceed max_tokens 512: "
        r"answers will be truncated \(raise max_tokens\)",
        warning,
    )
    assert expected and int(expected[1]) + int(expected[2]) >= 512, warning
    roomy = _suite([configs[0], {**DEEP, "max_tokens": 8192}], size=20)
    assert not any(w.startswith("config ") for w in plan_suite(roomy).warnings)
    # the simulator agrees: cut off at 512, whole at 8192
    for suite, cut in ((tight, True), (roomy, False)):
        res = runner.run(suite, out_dir=tmp_path, use_cache=False)
        deep = [r for r in res.records if r["config"] == "deep"]
        share = sum(r["failure"] == "truncated" for r in deep) / len(deep)
        assert share >= 0.8 if cut else share == 0, (cut, share)
