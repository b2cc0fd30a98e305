"""Runner knobs a user reaches from the CLI: --limit, thinking budgets, gating imports."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import cli, demo_suite, write_suite
from tts_bench.llm.backends.litellm_backend import LiteLLMBackend
from tts_bench.llm.types import ModelSpec


def test_limit_takes_a_stratified_subset_and_says_so(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", {**demo_suite(), "gates": []})
    proc = cli(
        "run",
        str(suite),
        "--limit",
        "30",
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
        "--quiet",
        "--no-report",
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["item_count"] == 30 and manifest["limit"] == 30
    records = [json.loads(x) for x in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    per_stratum = Counter(r["strata"]["difficulty"] for r in records if r["config"] == "single")
    assert sum(per_stratum.values()) == 30
    assert set(per_stratum) == {"easy", "medium", "hard"}
    assert min(per_stratum.values()) >= 7  # proportional to 73/62/65, not the first 30 ids
    assert manifest["strata_counts"]["difficulty"] == dict(per_stratum)


def test_thinking_budget_becomes_litellms_thinking_parameter(monkeypatch):
    seen: dict = {}

    class FakeLitellm:
        @staticmethod
        async def acompletion(**kw):
            seen.update(kw)
            raise RuntimeError("stop here")

    backend = LiteLLMBackend()
    backend._litellm = FakeLitellm
    spec = ModelSpec(model="anthropic/claude-x", params={"thinking_budget": 2048})
    import asyncio

    with pytest.raises(Exception):  # noqa: B017 - the fake provider always fails
        asyncio.run(
            backend.call(
                spec,
                [{"role": "user", "content": "hi"}],
                sample_index=0,
                n=1,
                timeout_s=5,
                api_key=None,
            )
        )
    assert "thinking_budget" not in seen
    assert seen["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_router_record_keeps_route_and_classifier_cost(tmp_path):
    from tts_bench import runner
    from tts_bench.suite import parse

    data = {**demo_suite(), "gates": []}
    data["dataset"]["sample"]["size"] = 12
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "cot", "strategy": "cot", "model": "sim/large"},
        {
            "name": "route",
            "strategy": "router",
            "classifier": "llm",
            "routes": {"easy": "single", "hard": "cot"},
        },
    ]
    result = runner.run(parse(data), out_dir=tmp_path, run_id="r", use_cache=False)
    calls = [json.loads(x) for x in (tmp_path / "r" / "calls.jsonl").read_text().splitlines()]
    routed = [r for r in result.records if r["config"] == "route"]
    assert len(routed) == 12
    for r in routed:
        mine = [c for c in calls if c["item_id"] == r["item_id"] and c["config"] == "route"]
        classify = [c for c in mine if c["role"] == "classify"]
        assert len(classify) == 1
        assert r["info"]["route"] in ("easy", "hard")
        assert r["info"]["classifier_cost_usd"] == pytest.approx(classify[0]["cost_usd"])
        assert r["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in mine))
        # sequential: classify, then the routed call
        assert r["latency_s"] == pytest.approx(sum(c["latency_s"] for c in mine))
        expected_model = "sim/large" if r["info"]["route"] == "hard" else "sim/small"
        assert mine[-1]["model"] == expected_model


def test_report_options_reach_the_summary(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", {**demo_suite(), "gates": []})
    assert (
        cli(
            "run",
            str(suite),
            "--limit",
            "24",
            "--out",
            str(tmp_path),
            "--run-id",
            "r",
            "--quiet",
            "--no-report",
        ).returncode
        == 0
    )
    proc = cli(
        "report",
        str(tmp_path / "r"),
        "--epsilon",
        "2.5",
        "--resamples",
        "500",
        "--max-cost-per-request",
        "0.00003",
        "--target-delta",
        "10",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["meta"]["epsilon_points"] == 2.5 and summary["meta"]["resamples"] == 500
    assert summary["routing"]["budgets"]["max_cost_per_request"] == 0.00003
    for route in summary["routing"]["routes"].values():  # only configs under the budget
        assert (
            route["cost_usd"] is None or route["cost_usd"] <= 0.00003 or not route["meets_budgets"]
        )
    bad = cli("report", str(tmp_path / "r"), "--confidence", "1.5")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --confidence")


def test_dead_endpoint_fails_the_run_and_resume_retries_it(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = {**demo_suite(), "gates": []}
    data["dataset"]["sample"]["size"] = 6
    data["configs"] = [{"name": "single", "strategy": "single"}]
    data["limits"] = {"retries": 0, "timeout_s": 2}
    data["defaults"] = {"model": "openai/sim-small", "api_base": f"http://127.0.0.1:{port}/v1"}
    suite = write_suite(tmp_path / "s.yaml", data)
    # the preflight finds the endpoint down before anything is written ...
    early = cli("run", str(suite), "--out", str(tmp_path), "--run-id", "r", "--quiet")
    assert early.returncode == 2 and "endpoint unreachable" in early.stderr
    assert len(early.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    # ... and without it, every pair fails and the run is marked failed
    proc = cli(
        "run", str(suite), "--out", str(tmp_path), "--run-id", "r", "--quiet", "--no-preflight"
    )
    assert proc.returncode == 2
    assert "6 of 6 requests failed" in proc.stderr and "Traceback" not in proc.stderr
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    records = (tmp_path / "r" / "records.jsonl").read_text().splitlines()
    assert all(json.loads(x)["failure"] in ("api_error", "timeout") for x in records)
    # the endpoint comes back: a resume runs the failed pairs again
    from tts_bench.sim.server import ServerThread

    with ServerThread(port=port, time_scale=0):
        again = cli(
            "run",
            str(suite),
            "--out",
            str(tmp_path),
            "--resume",
            str(tmp_path / "r"),
            "--quiet",
            "--no-report",
        )
    assert again.returncode == 0, again.stderr
    final = [json.loads(x) for x in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    assert len(final) == 6 and all(r["status"] == "ok" for r in final)


def test_keys_in_a_config_are_refused(tmp_path):
    data = {**demo_suite(), "gates": []}
    data["configs"] = [{"name": "single", "strategy": "single", "params": {"api_key": "sk-x"}}]
    proc = cli("run", str(write_suite(tmp_path / "s.yaml", data)), "--out", str(tmp_path))
    assert proc.returncode == 2 and "api_key_env" in proc.stderr
    data["configs"] = [
        {
            "name": "single",
            "strategy": "single",
            "params": {"extra_headers": {"Authorization": "Bearer x"}},
        }
    ]
    proc = cli("run", str(write_suite(tmp_path / "s.yaml", data)), "--out", str(tmp_path))
    assert proc.returncode == 2 and "extra_headers" in proc.stderr
    assert not any(tmp_path.glob("*/manifest.json"))


def test_unknown_sim_model_and_unset_key_fail_before_any_run_dir(tmp_path):
    data = {**demo_suite(), "gates": []}
    data["configs"] = [{"name": "single", "strategy": "single", "model": "sim/nope"}]
    proc = cli("run", str(write_suite(tmp_path / "s.yaml", data)), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "configs[single].model" in proc.stderr
    data["configs"] = [
        {
            "name": "single",
            "strategy": "single",
            "model": "openai/gpt-x",
            "api_key_env": "TTS_BENCH_SURELY_UNSET",
        }
    ]
    proc = cli("run", str(write_suite(tmp_path / "s.yaml", data)), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "TTS_BENCH_SURELY_UNSET" in proc.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_baseline_defaults_to_the_first_config():
    from tts_bench.suite import parse

    data = {**demo_suite(), "gates": []}
    data.pop("baseline")
    assert parse(data).baseline == data["configs"][0]["name"]


def test_budget_stopped_run_reports_without_crashing_or_crowning_a_one_item_config(tmp_path):
    from tts_bench import runner
    from tts_bench.analysis import summarize
    from tts_bench.report import write_report
    from tts_bench.suite import parse

    data = {**demo_suite(), "gates": []}
    data["dataset"]["sample"]["size"] = 60
    result = runner.run(parse(data), out_dir=tmp_path, run_id="r", max_cost=0.004)
    assert result.status == "budget_exceeded"
    summary = summarize(tmp_path / "r", resamples=500)
    covered = {c["config"]: c["n_items"] for c in summary["configs"]}
    assert min(covered.values()) * 2 < max(covered.values())  # the stop left configs uneven
    best = summary["routing"]["best_single"]
    assert best is not None and covered[best["config"]] * 2 >= max(covered.values())
    assert write_report(tmp_path / "r").is_file()
