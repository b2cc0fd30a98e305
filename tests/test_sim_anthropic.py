"""The simulator's Anthropic Messages API: its wire format and errors over HTTP, and the whole
CLI through litellm's real `anthropic/...` provider pointed at it (offline, fake keys)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli, demo_suite, write_suite
from tts_bench.sim.server import ServerThread

KEY = {"x-api-key": "sk-ant-test-000"}


@pytest.fixture(scope="module")
def server():
    with ServerThread(time_scale=0) as srv:
        yield srv


def _post(srv: ServerThread, body: dict, headers: dict | None = None) -> tuple[int, dict, dict]:
    base = srv.url.removesuffix("/v1")
    req = urllib.request.Request(
        f"{base}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


QUESTION = "What is 17 + 25 - 8? End with 'Final answer: <number>'."


def _body(**extra) -> dict:
    return {
        "model": "sim-small",
        "max_tokens": 512,
        "system": "You are a careful assistant.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        **extra,
    }


def test_a_message_has_anthropics_shape(server):
    code, _, msg = _post(server, _body(temperature=0), KEY)
    assert code == 200, msg
    assert msg["type"] == "message" and msg["role"] == "assistant" and msg["model"] == "sim-small"
    assert [b["type"] for b in msg["content"]] == ["text"] and "Final answer:" in msg["content"][0][
        "text"
    ]
    assert msg["stop_reason"] == "end_turn"
    usage = msg["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
    cut = _post(server, _body(max_tokens=2), KEY)[2]
    assert cut["stop_reason"] == "max_tokens" and cut["usage"]["output_tokens"] <= 2


def test_thinking_blocks_count_in_output_tokens(server):
    body = _body(model="sim-reasoner", max_tokens=4000, temperature=1)
    body["thinking"] = {"type": "enabled", "budget_tokens": 2000}
    code, _, msg = _post(server, body, KEY)
    assert code == 200, msg
    thinking, text = msg["content"]
    assert thinking["type"] == "thinking" and thinking["signature"] and text["type"] == "text"
    spent = msg["usage"]["output_tokens_details"]["thinking_tokens"]
    assert 0 < spent and msg["usage"]["output_tokens"] > spent
    # Anthropic's own rules on the budget
    for bad in (500, 4000):
        body["thinking"]["budget_tokens"] = bad
        code, _, err = _post(server, body, KEY)
        assert code == 400 and err["error"]["type"] == "invalid_request_error"


def test_a_cached_prefix_is_written_once_then_read(server):
    system = [{"type": "text", "text": "Rules. " * 300, "cache_control": {"type": "ephemeral"}}]
    first = _post(server, _body(system=system), KEY)[2]["usage"]
    second = _post(server, _body(system=system, temperature=0.5), KEY)[2]["usage"]
    assert first["cache_creation_input_tokens"] > 0 == first["cache_read_input_tokens"]
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert second["input_tokens"] < 50 < second["cache_read_input_tokens"]


@pytest.mark.parametrize(
    "headers, body, code, kind",
    [
        ({}, _body(), 401, "authentication_error"),
        ({"x-api-key": " "}, _body(), 401, "authentication_error"),
        ({"x-api-key": "sk-invalid"}, _body(), 401, "authentication_error"),
        (KEY, {"model": "sim-small", "messages": []}, 400, "invalid_request_error"),
        (KEY, _body(model="claude-nothing"), 404, "not_found_error"),
        ({**KEY, "X-Sim-Fault": "503"}, _body(), 529, "overloaded_error"),
        ({**KEY, "X-Sim-Fault": "500"}, _body(), 500, "api_error"),
    ],
)
def test_errors_come_in_anthropics_shape(server, headers, body, code, kind):
    got, _, err = _post(server, body, headers)
    assert (got, err["type"], err["error"]["type"]) == (code, "error", kind)
    assert err["error"]["message"]


def test_prompt_too_long_and_rate_limits(server):
    huge = _body(messages=[{"role": "user", "content": "word " * 180_000}])
    code, _, err = _post(server, huge, KEY)
    assert code == 400 and err["error"]["message"].startswith("prompt is too long")
    code, headers, err = _post(server, _body(), {**KEY, "X-Sim-Fault": "429"})
    assert code == 429 and err["error"]["type"] == "rate_limit_error"
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["retry-after"] == "1"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")


# -- the whole CLI through litellm's anthropic provider ----------------------------------------


def _suite(tmp: Path, base: str, **cfg) -> Path:
    data = {**demo_suite(), "gates": [], "baseline": "claude"}
    data["dataset"]["sample"]["size"] = 20
    remote = {"model": "anthropic/sim-small", "api_base": base, "api_key_env": "TTS_ANT_KEY"}
    lit = {"transport": "litellm"}
    headers_429 = {"X-Sim-Fault": "429", "X-Sim-Fault-Times": "1", "X-Sim-Retry-After": "0"}
    data["configs"] = [
        {"name": "claude", "strategy": "single", **remote, "params": lit},
        {"name": "thinker", "strategy": "single", **remote, "model": "anthropic/sim-reasoner",
         "temperature": 1.0, "max_tokens": 4000,
         "params": {**lit, "thinking_budget": 2000, "allowed_openai_params": ["thinking"]}},
        {"name": "limited", "strategy": "single", **remote,
         "params": {**lit, "extra_headers": headers_429}},
        {"name": "overloaded", "strategy": "single", **remote,
         "params": {**lit, "extra_headers": {"X-Sim-Fault": "503"}}},
    ]  # fmt: skip
    data["limits"] = {"concurrency": 4, "timeout_s": 30, "retries": 1}
    price = {"input": 3.0, "output": 15.0}
    data["pricing"] = {"anthropic/sim-small": price, "anthropic/sim-reasoner": price}
    return write_suite(tmp / "suite.yaml", data)


def _run(suite: Path, out: Path, env: dict) -> tuple[int, str, list[dict]]:
    # Without the preflight: these tests are about what the run itself records.
    proc = cli("run", str(suite), "--out", str(out), "--run-id", "r", "--quiet", "--no-report", "--no-cache",
               "--no-preflight", env=env)  # fmt: skip
    assert (out / "r" / "records.jsonl").exists(), proc.stderr[-3000:]
    lines = (out / "r" / "records.jsonl").read_text().splitlines()
    return proc.returncode, proc.stderr, [json.loads(x) for x in lines if x]


def test_a_run_through_litellms_anthropic_provider(tmp_path):
    with ServerThread(time_scale=0) as srv:
        base = srv.url.removesuffix("/v1")  # litellm appends /v1/messages
        code, stderr, records = _run(
            _suite(tmp_path, base), tmp_path / "out", {"TTS_ANT_KEY": "sk-ant-test-000"}
        )
        hits = list(srv.log)
    by = {}
    for r in records:
        by.setdefault(r["config"], []).append(r)
    for name in ("claude", "thinker", "limited"):
        ok = [r for r in by[name] if r["status"] == "ok"]
        assert len(ok) == 20, (name, stderr[-2000:])
        assert 0.3 <= sum(bool(r["correct"]) for r in ok) / 20 <= 1.0, name
        assert all(r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in ok), name
        assert all(r["cost_usd"] is not None and r["cost_usd"] > 0 for r in ok), name
    assert all(r["reasoning_tokens"] > 0 for r in by["thinker"])
    assert all(not r["reasoning_tokens"] for r in by["claude"])
    # the 429 once per request, then a retry that succeeded
    calls = [
        json.loads(x)
        for x in (tmp_path / "out" / "r" / "calls.jsonl").read_text().splitlines()
        if x
    ]
    assert all(c["retries"] >= 1 for c in calls if c["config"] == "limited")
    assert sum(h.fault == "429" for h in hits) == 20
    errors = [c.get("error") for c in calls if c["config"] == "overloaded"]
    assert {r["status"] for r in by["overloaded"]} == {"server_error"}, errors
    assert all("overloaded_error" in e for e in errors)
    # an infrastructure failure, never scored as a wrong answer
    assert all(r["correct"] is None and r["failure"] in ("server_error", "api_error")
               for r in by["overloaded"])  # fmt: skip
    assert code in (0, 1, 2)  # a config that never answered may fail the run; labels matter


def test_a_missing_or_rejected_key_fails_the_run(tmp_path):
    with ServerThread(time_scale=0) as srv:
        suite = _suite(tmp_path, srv.url.removesuffix("/v1"))
        data = yaml.safe_load(suite.read_text())
        data["configs"] = data["configs"][:1]
        write_suite(suite, data)
        missing = cli("run", str(suite), "--out", str(tmp_path / "o1"), env={"TTS_ANT_KEY": ""})
        assert missing.returncode == 2 and "TTS_ANT_KEY is not set" in missing.stderr
        assert not srv.log  # refused before any call
        env = {"TTS_ANT_KEY": "sk-ant-invalid"}
        checked = cli("run", str(suite), "--out", str(tmp_path / "o2"), env=env)
        assert checked.returncode == 2 and "auth_error" in checked.stderr
        assert "nothing was run" in checked.stderr  # the preflight's one call refused it
        assert not list((tmp_path / "o2").rglob("records.jsonl"))
        code, stderr, records = _run(suite, tmp_path / "out", env)
    assert code == 2, stderr
    assert "auth_error" in stderr and "TTS_ANT_KEY" in stderr
    assert records and {r["status"] for r in records} == {"auth_error"}


def test_litellm_labels_anthropics_errors_and_reads_cache_tokens(server):
    from tts_bench.llm.backends.litellm_backend import _parse
    from tts_bench.llm.errors import classify_exception
    from tts_bench.llm.offline import import_litellm

    litellm = import_litellm()
    base = server.url.removesuffix("/v1")

    def call(model: str, content, **kw):
        return litellm.completion(
            model=model, messages=[{"role": "user", "content": content}], api_base=base,
            api_key="sk-ant-test", max_tokens=256, num_retries=0, max_retries=0, **kw,
        )  # fmt: skip

    for model, content, label in [
        ("anthropic/sim-small", "word " * 180_000, "context_overflow"),
        ("anthropic/sim-nothing", QUESTION, "not_found"),
    ]:
        with pytest.raises(Exception) as info:
            call(model, content)
        assert classify_exception(info.value).status == label, info.value
    marked = [{"type": "text", "text": "Rules. " * 300 + QUESTION,
               "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    first, second = (_parse(call("anthropic/sim-large", marked))[0].usage for _ in range(2))
    # The content_filter fault stops the reply as Anthropic's classifiers do ("refusal"),
    # which litellm reports as OpenAI's finish reason.
    filtered = call(
        "anthropic/sim-small", QUESTION, extra_headers={"X-Sim-Fault": "content_filter"}
    )
    assert filtered.choices[0].finish_reason == "content_filter"
    assert first.cache_write_tokens > 0 == first.cached_tokens
    assert second.cached_tokens == first.cache_write_tokens > 0 == second.cache_write_tokens
