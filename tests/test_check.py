"""`tts-bench check SUITE`: one cheap call per distinct model target, exit 2 on any fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, demo_suite, write_suite
from tests.echoserver import ScriptedServer
from tts_bench.check import check_suite, targets
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Suite

LIMITS = {"concurrency": 4, "timeout_s": 20, "retries": 1, "max_retry_wait_s": 1}
FAKE_KEY = "sk-check-test-0123456789abcdef"
UNSUPPORTED = {
    "error": {
        "message": "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "reasoning_effort",
        "code": "unsupported_parameter",
    }
}


def suite_of(configs: list[dict[str, Any]], **over: Any) -> Suite:
    data = demo_suite(configs=configs, baseline=configs[0]["name"], limits=LIMITS, gates=[])
    data.update(over)
    return Suite.model_validate(data)


@pytest.fixture(scope="module")
def sim_url():
    with ServerThread(time_scale=0.0) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer() as srv:
        srv.scripts["gpt-noeffort"] = (400, UNSUPPORTED, {})
        yield srv


def test_good_suite_passes_and_deduplicates(sim_url):
    suite = suite_of(
        [
            {"name": "a", "strategy": "single", "model": "openai/sim-small", "api_base": sim_url},
            {"name": "b", "strategy": "cot", "model": "openai/sim-small", "api_base": sim_url},
            {
                "name": "c",
                "strategy": "best_of_n",
                "n": 2,
                "model": "openai/sim-small",
                "api_base": sim_url,
                "judge": {"model": "openai/sim-large"},
                "fallback": "sim/small",
            },
        ]
    )
    found = targets(suite)
    assert [(t.spec.model, t.transport, t.uses) for t in found] == [
        ("openai/sim-small", "direct", ["a", "b", "c"]),
        ("sim/small", "sim", ["c (fallback)"]),
        ("openai/sim-large", "direct", ["c (judge)"]),
    ]
    assert [t.configs for t in found] == [["a", "b", "c"], ["c"], ["c"]]
    rep = check_suite(suite)
    assert rep.exit_code == 0, [ln.text for ln in rep.lines]
    assert all(ln.ok for ln in rep.lines)
    assert rep.n_calls == 2 and rep.spent_usd > 0  # the two served targets; sim/small is local
    assert all("price: simulator profile" in ln.text for ln in rep.lines)
    assert rep.lines[0].text.startswith("✓ openai/sim-small (direct) [a, b, c]")
    assert rep.summary == "check: all 3 targets passed"


def test_different_parameters_are_different_targets(sim_url):
    base = {"strategy": "single", "model": "openai/sim-small", "api_base": sim_url}
    suite = suite_of([{"name": "low", **base}, {"name": "hot", **base, "temperature": 0.9}])
    assert [t.uses for t in targets(suite)] == [["low"], ["hot"]]
    sims = suite_of(
        [
            {"name": "s1", "strategy": "single", "model": "sim/small"},
            {"name": "s2", "strategy": "single", "model": "sim/small", "temperature": 0.9},
        ]
    )
    assert [t.uses for t in targets(sims)] == [["s1", "s2"]]  # nothing is sent for sim/...


def test_unset_key_variable_is_fatal_without_a_call(scripted, monkeypatch):
    monkeypatch.delenv("TTS_CHECK_UNSET_KEY", raising=False)
    before = len(scripted.hits)
    suite = suite_of(
        [
            {
                "name": "keyed",
                "strategy": "single",
                "model": "openai/gpt-keyed",
                "api_base": scripted.url,
                "api_key_env": "TTS_CHECK_UNSET_KEY",
            }
        ]
    )
    rep = check_suite(suite)
    assert rep.exit_code == 2
    (line,) = rep.lines
    assert line.status == "key_unset" and line.fatal
    assert line.text.startswith("✗ openai/gpt-keyed (direct) [keyed] — key variable unset")
    assert "TTS_CHECK_UNSET_KEY" in line.text
    assert len(scripted.hits) == before  # nothing was sent


def test_rejected_key_wrong_model_and_rejected_parameter(scripted, sim_url, monkeypatch):
    monkeypatch.setenv("TTS_CHECK_KEY", FAKE_KEY)
    scripted_base = {"api_base": scripted.url, "api_key_env": "TTS_CHECK_KEY"}
    suite = suite_of(
        [
            {
                "name": "good",
                "strategy": "single",
                "model": "openai/sim-small",
                "api_base": sim_url,
            },
            {"name": "auth", "strategy": "single", "model": "openai/echo-401", **scripted_base},
            {"name": "typo", "strategy": "single", "model": "openai/gpt-typo", "api_base": sim_url},
            {
                "name": "effort",
                "strategy": "single",
                "model": "openai/gpt-noeffort",
                "params": {"reasoning_effort": "high"},
                **scripted_base,
            },
        ]
    )
    rep = check_suite(suite)
    assert rep.exit_code == 2
    by_use = {ln.target.uses[0]: ln for ln in rep.lines}
    assert by_use["good"].ok and not by_use["good"].fatal
    assert (by_use["auth"].status, by_use["typo"].status, by_use["effort"].status) == (
        "auth_error",
        "not_found",
        "bad_request",
    )
    assert by_use["auth"].text.startswith("✗ openai/echo-401 (direct) [auth] — key rejected")
    assert FAKE_KEY not in by_use["auth"].text  # the echoed key is masked
    assert by_use["typo"].text.startswith("✗ openai/gpt-typo (direct) [typo] — model not found")
    assert "Unsupported parameter: 'reasoning_effort'" in by_use["effort"].text
    assert "[effort] — parameter rejected (bad_request)" in by_use["effort"].text
    assert rep.summary == "check: 3 of 4 targets failed"
    assert all(ln.fatal for ln in rep.failed)


def test_unknown_price_is_a_warning_and_unknown_sim_profile_is_fatal(scripted):
    ok = check_suite(
        suite_of(
            [
                {
                    "name": "local",
                    "strategy": "single",
                    "model": "openai/my-local-model-xyz",
                    "api_base": scripted.url,
                }
            ]
        )
    )
    assert ok.exit_code == 0
    assert "warning: price unknown" in ok.lines[0].text
    bad = check_suite(suite_of([{"name": "s", "strategy": "single", "model": "sim/nonesuch"}]))
    assert bad.exit_code == 2 and bad.lines[0].status == "config"
    assert bad.lines[0].text.startswith("✗ sim/nonesuch (sim) [s]")


def test_cli_prints_table_on_stdout_and_one_summary_line_on_stderr(tmp_path: Path, sim_url):
    good = {"strategy": "single", "model": "openai/sim-small", "api_base": sim_url}
    data = demo_suite(
        configs=[
            {"name": "good", **good},
            {"name": "typo", **good, "model": "openai/gpt-tiny-nope"},
        ],
        baseline="good",
        limits=LIMITS,
        gates=[],
    )
    out = cli("check", str(write_suite(tmp_path / "s.yaml", data)))
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == "check: 1 of 2 targets failed"
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("✓ openai/sim-small (direct) [good]")
    assert lines[1].startswith("✗ openai/gpt-tiny-nope (direct) [typo] — model not found")
    data["configs"] = data["configs"][:1]
    ok = cli("check", str(write_suite(tmp_path / "s.yaml", data)))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == "check: all 1 targets passed"


def test_litellm_transport_gets_the_same_verdicts(sim_url, monkeypatch):
    monkeypatch.setenv("TTS_CHECK_KEY", FAKE_KEY)
    via = {"api_base": sim_url, "api_key_env": "TTS_CHECK_KEY", "params": {"transport": "litellm"}}
    suite = suite_of(
        [
            {"name": "good", "strategy": "single", "model": "openai/sim-small", **via},
            {"name": "typo", "strategy": "single", "model": "openai/gpt-typo", **via},
        ]
    )
    rep = check_suite(suite)
    assert [(ln.target.transport, ln.status) for ln in rep.lines] == [
        ("litellm", "ok"),
        ("litellm", "not_found"),
    ]
    assert rep.exit_code == 2


def test_a_rejected_default_key_names_the_provider_variable(monkeypatch):
    from tts_bench.check import _missing_default_key
    from tts_bench.llm.types import ModelSpec

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    hint = _missing_default_key(ModelSpec("anthropic/claude-3-5-haiku-latest"))
    assert "ANTHROPIC_API_KEY not set" in hint
