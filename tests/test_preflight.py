"""`run`'s preflight: check's cheap call per model before anything is written or spent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, demo_suite, write_suite
from tests.echoserver import ScriptedServer
from tts_bench.check import check_suite
from tts_bench.runner import Runner
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Suite

LIMITS = {"concurrency": 4, "timeout_s": 20, "retries": 1, "max_retry_wait_s": 1}
PRICE = {"input": 1.0, "output": 2.0}
REJECT_EFFORT = {
    "error": {
        "message": "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "reasoning_effort",
        "code": "unsupported_parameter",
    }
}
BAD_KEY = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}


def suite_data(configs: list[dict[str, Any]], size: int = 4, **over: Any) -> dict[str, Any]:
    data = demo_suite(configs=configs, baseline=configs[0]["name"], limits=LIMITS, gates=[])
    data["dataset"] = {**data["dataset"], "sample": {"size": size, "by": ["difficulty"]}}
    # known prices: litellm's price map (seconds to load) is never needed
    data["pricing"] = {f"openai/gpt-{m}": PRICE for m in ("badkey", "typo", "noeffort", "x")}
    data.update(over)
    return data


@pytest.fixture(scope="module")
def sim():
    with ServerThread(time_scale=0.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer() as srv:
        srv.scripts["gpt-noeffort"] = (400, REJECT_EFFORT, {})
        srv.scripts["gpt-badkey"] = (401, BAD_KEY, {})
        yield srv


def _remote(url: str, name: str = "remote", model: str = "openai/sim-small", **kw: Any) -> dict:
    return {"name": name, "strategy": "single", "model": model, "api_base": url, **kw}


@pytest.mark.parametrize(
    ("model", "params", "reason"),
    [
        ("openai/gpt-badkey", {}, "key rejected (auth_error)"),
        ("openai/gpt-typo", {}, "model not found (not_found)"),
        ("openai/gpt-noeffort", {"reasoning_effort": "high"}, "parameter rejected (bad_request)"),
    ],
)
def test_a_fatal_target_stops_the_run_before_anything_is_written(
    tmp_path: Path, scripted, sim, model: str, params: dict, reason: str
):
    url = sim.url if model == "openai/gpt-typo" else scripted.url
    configs = [{"name": "single", "strategy": "single"}, _remote(url, model=model, params=params)]
    suite = Suite.model_validate(suite_data(configs))
    before = len(scripted.hits) + len(sim.log)
    with pytest.raises(Exception) as info:
        Runner(suite, out_dir=tmp_path / "out", run_id="r", where="s.yaml").run()
    assert type(info.value).__name__ == "UserError"
    line = str(info.value)
    assert line.startswith(f"s.yaml: preflight: ✗ {model} (direct) [remote] — {reason}")
    assert "\n" not in line and "--no-preflight" in line
    assert len(scripted.hits) + len(sim.log) == before + 1  # the one check call, nothing else
    assert not (tmp_path / "out" / "r").exists()  # no manifest, no records, not even a lock


def test_cli_exit_2_for_a_missing_key_and_a_rejected_parameter(
    tmp_path: Path, scripted, sim, monkeypatch
):
    monkeypatch.delenv("TTS_PREFLIGHT_UNSET", raising=False)
    cases = {
        "unset": _remote(scripted.url, model="openai/gpt-x", api_key_env="TTS_PREFLIGHT_UNSET"),
        "effort": _remote(
            scripted.url, model="openai/gpt-noeffort", params={"reasoning_effort": "low"}
        ),
    }
    expect = {
        "unset": "api_key_env TTS_PREFLIGHT_UNSET is not set",
        "effort": "Unsupported parameter: 'reasoning_effort'",
    }
    for name, cfg in cases.items():
        data = suite_data([{"name": "single", "strategy": "single"}, {**cfg, "name": name}])
        suite = write_suite(tmp_path / f"{name}.yaml", data)
        out = cli("run", str(suite), "--out", str(tmp_path / "out"), "--run-id", name, "--quiet")
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
        assert expect[name] in lines[0] and "Traceback" not in out.stderr
        assert not (tmp_path / "out" / name).exists()


def test_the_check_call_is_counted_in_the_run_spend(tmp_path: Path, sim):
    configs = [{"name": "single", "strategy": "single"}, _remote(sim.url)]
    suite = Suite.model_validate(suite_data(configs, pricing={"openai/sim-small": PRICE}))
    result = Runner(suite, out_dir=tmp_path / "out", run_id="r").run()
    assert result.status == "complete"
    run_dir = tmp_path / "out" / "r"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    calls = [json.loads(x) for x in (run_dir / "calls.jsonl").read_text().splitlines()]
    paid = sum(c["cost_usd"] or 0.0 for c in calls)
    probe = check_suite(suite).spent_usd  # the same call again: sim serve is deterministic
    assert probe > 0
    assert manifest["sessions"][-1]["preflight_calls"] == 1
    assert result.spent_usd == pytest.approx(paid + probe, rel=1e-9)
    assert manifest["spent_usd"] == pytest.approx(paid + probe, rel=1e-6)


def test_cached_calls_simulated_models_and_no_preflight_call_nothing(tmp_path: Path, sim):
    out = tmp_path / "out"
    remote = _remote(sim.url)
    suite = Suite.model_validate(suite_data([{"name": "single", "strategy": "single"}, remote]))
    first = Runner(suite, out_dir=out, run_id="a").run()
    assert first.status == "complete"
    seen = len(sim.log)
    # every call of a second run is in the cache: no check call, no live call
    again = Runner(suite, out_dir=out, run_id="b").run()
    assert again.status == "complete" and len(sim.log) == seen
    manifest = json.loads((out / "b" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["preflight_calls"] == 0
    # a new remote model: only it is checked (its pairs and one check call reach the server)
    wider = suite_data(
        [
            {"name": "single", "strategy": "single"},
            remote,
            _remote(sim.url, name="large", model="openai/sim-large"),
        ]
    )
    third = Runner(Suite.model_validate(wider), out_dir=out, run_id="c").run()
    assert third.status == "complete"
    new = sim.log[seen:]
    assert {h.model for h in new} == {"sim/large"} and len(new) == 4 + 1
    # simulated models only: nothing to call
    sims = Suite.model_validate(suite_data([{"name": "single", "strategy": "single"}]))
    runner = Runner(sims, out_dir=out, run_id="d", use_cache=False)
    assert runner.run().status == "complete" and runner.preflight_calls == 0
    # --no-preflight: the pairs' own calls only
    fresh = Runner(suite, out_dir=out, run_id="e", use_cache=False, preflight=False)
    assert fresh.run().status == "complete"
    assert len(sim.log) == seen + 5 + 4 and fresh.preflight_calls == 0


def test_resuming_a_failed_run_checks_again(tmp_path: Path, scripted, monkeypatch):
    """A run that failed on a rejected key mid-run (no preflight) is resumed once the key is
    fixed; with it still wrong, the resume stops at the check and writes nothing."""
    configs = [{"name": "single", "strategy": "single"}, _remote(scripted.url, model="gpt-badkey")]
    configs[1]["model"] = "openai/gpt-badkey"
    suite = Suite.model_validate(suite_data(configs))
    out = tmp_path / "out"
    failed = Runner(suite, out_dir=out, run_id="r", preflight=False).run()
    assert failed.status == "failed"
    before = {p.name: p.read_bytes() for p in (out / "r").iterdir() if p.name != ".lock"}
    with pytest.raises(Exception, match="preflight: ✗ openai/gpt-badkey"):
        Runner(suite, out_dir=out, resume_dir=out / "r").run()
    after = {p.name: p.read_bytes() for p in (out / "r").iterdir() if p.name != ".lock"}
    assert after == before


def test_a_judge_behind_uncached_samples_is_checked_too(tmp_path: Path, sim):
    """The dry pass never reaches the judge (its samples are not cached), yet the run will
    call it live: every model of a config that misses the cache is checked."""
    out = tmp_path / "out"
    single = Suite.model_validate(suite_data([_remote(sim.url, name="single")]))
    assert Runner(single, out_dir=out, run_id="a").run().status == "complete"  # a cache file
    judged = _remote(sim.url, name="bon", strategy="best_of_n", n=2, temperature=0.7)
    judged["judge"] = {"model": "openai/sim-large"}
    runner = Runner(Suite.model_validate(suite_data([judged])), out_dir=out, run_id="b")
    assert runner.run().status == "complete"
    assert runner.preflight_calls == 2  # the samples' model and the judge


def test_a_judge_scorer_with_a_bad_key_stops_the_run_before_anything_is_written(
    tmp_path: Path, scripted
):
    judge = {"type": "judge", "model": "openai/gpt-badkey", "api_base": scripted.url,
             "rubric": "The answer is correct."}  # fmt: skip
    suite = Suite.model_validate(
        suite_data([{"name": "single", "strategy": "single"}], scorer=judge)
    )
    with pytest.raises(Exception) as info:
        Runner(suite, out_dir=tmp_path / "out", run_id="r", where="s.yaml").run()
    assert type(info.value).__name__ == "UserError"
    assert "openai/gpt-badkey (direct) [scorer (judge)] — key rejected" in str(info.value)
    assert not (tmp_path / "out" / "r").exists()
