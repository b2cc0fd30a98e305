"""`sim serve`'s OpenAI fidelity: errors as OpenAI sends them, cached and reasoning tokens,
the content filter and the server-side rate limit; the same labels through both transports
(direct aiohttp and litellm's `openai/` provider), through the Client and the whole CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import cli, demo_suite, write_suite
from tts_bench.errors import UserError
from tts_bench.llm import Client
from tts_bench.llm.errors import classify_http
from tts_bench.llm.types import ModelSpec
from tts_bench.sim.ratelimit import (
    ServerRateLimit,
    anthropic_headers,
    duration,
    openai_headers,
)
from tts_bench.sim.server import ServerConfig, ServerThread
from tts_bench.sim.text import input_tokens
from tts_bench.sim.wire import PromptCache
from tts_bench.suite import Limits

GOOD, BAD = "sk-sim-good-0123456789", "sk-sim-wrong-9876543210"
TINY = {"tiny": {"base": "small", "context_window": 1000}}
QUESTION = "What is 17 + 25 - 8? End with 'Final answer: <number>'."
RULES = "Follow the house rules exactly and show no working. " * 120  # ~1600 tokens


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the limiter on a fake clock ------------------------------------------------------------


def test_request_bucket_is_a_burst_then_exactly_rpm():
    clock = Clock()
    limit = ServerRateLimit(rpm=60, clock=clock)  # 1 a second, a burst of 5
    assert [limit.admit("m", 10).refused for _ in range(6)] == [None] * 5 + ["requests"]
    refused = limit.admit("m", 10)
    assert refused.retry_after_s == pytest.approx(1.0) and refused.remaining_requests == 0
    clock.now += 0.5
    assert limit.admit("m", 10).retry_after_s == pytest.approx(0.5)  # refusals take nothing
    clock.now += 0.5
    assert limit.admit("m", 10).refused is None
    assert limit.admit("other", 10).refused is None  # every model has its own buckets
    # Hammered every 50 ms for a minute: exactly one more per second, never a burst again.
    admitted = 0
    for _ in range(1200):
        clock.now += 0.05
        admitted += limit.admit("m", 10).refused is None
    assert admitted == 60


def test_token_bucket_charges_exact_tokens_and_refuses_too_large():
    clock = Clock()
    limit = ServerRateLimit(tpm=6000, clock=clock)  # 100 tokens/s, holds 500
    assert limit.admit("m", 300).refused is None
    second = limit.admit("m", 300)
    assert (second.refused, second.remaining_tokens) == ("tokens", 200)
    assert second.retry_after_s == pytest.approx(1.0)
    assert second.reset_tokens_s == pytest.approx(3.0)
    clock.now += 3
    big = limit.admit("m", 800)  # above the capacity: waits for a full bucket, leaves debt
    assert big.refused is None and big.remaining_tokens == 0
    assert big.reset_tokens_s == pytest.approx(8.0)
    huge = limit.admit("m", 6001)  # above the minute's limit: never admitted
    assert huge.refused == "tokens" and huge.too_large


def test_limits_are_checked():
    with pytest.raises(UserError, match="--rpm"):
        ServerRateLimit(rpm=0)
    with pytest.raises(UserError, match="--tpm"):
        ServerConfig(tpm=-5)
    with pytest.raises(UserError, match="api_keys"):
        ServerConfig(api_keys=("",))


def test_duration_and_headers_speak_openais_and_anthropics_formats():
    assert [duration(s) for s in (0, 0.12, 1, 1.5, 59.9999, 360, 3600)] == [
        "0s", "120ms", "1s", "1.5s", "1m0s", "6m0s", "1h0m0s",
    ]  # fmt: skip
    clock = Clock()
    limit = ServerRateLimit(rpm=6, tpm=1200, clock=clock)
    limit.admit("m", 100)
    verdict = limit.admit("m", 100)
    assert openai_headers(verdict) == {
        "x-ratelimit-limit-requests": "6",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "10s",
        "x-ratelimit-limit-tokens": "1200",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "5s",
        "retry-after": "10",
        "retry-after-ms": "10000",
    }
    ant = anthropic_headers(verdict)
    assert ant["anthropic-ratelimit-requests-limit"] == "6" and ant["retry-after"] == "10"
    assert ant["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert ant["anthropic-ratelimit-tokens-remaining"] == "0"


# -- the prompt cache ---------------------------------------------------------------------


def test_prompt_cache_follows_openais_rule():
    clock = Clock()
    cache = PromptCache(clock=clock)
    long = [{"role": "system", "content": RULES}, {"role": "user", "content": QUESTION}]
    other = [{"role": "system", "content": RULES}, {"role": "user", "content": "Other?"}]
    assert cache.cached("sim/small", long, 1000) == 0  # below 1024 tokens: never cached
    assert cache.cached("sim/small", long, 1700) == 0  # first seen: written, not read
    assert cache.cached("sim/small", long, 1700) == 1664  # 1024 + 5 * 128, the whole prompt
    shared = cache.cached("sim/small", other, 1700)  # same system prompt, new question
    assert shared % 128 == 0 and 1024 <= shared < 1664
    assert cache.cached("sim/large", long, 1700) == 0  # a cache per model
    clock.now += 301  # forgotten after five idle minutes
    assert cache.cached("sim/small", long, 1700) == 0


# -- over HTTP ------------------------------------------------------------------------------


async def _post(url: str, body: dict, headers: dict | None = None, path: str = "/chat/completions"):
    async with aiohttp.ClientSession() as session:
        async with session.post(url + path, json=body, headers=headers) as resp:
            return resp.status, resp.headers.copy(), json.loads(await resp.read())


def _body(model: str = "sim-small", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": QUESTION}], **extra}


def test_openai_error_bodies_are_openais():
    with ServerThread(time_scale=0, api_keys=(GOOD,), profiles=TINY) as srv:

        async def go():
            auth = {"Authorization": f"Bearer {GOOD}"}
            return [
                await _post(srv.url, _body()),
                await _post(srv.url, _body(), {"Authorization": f"Bearer {BAD}"}),
                await _post(srv.url, _body("sim-tiny", max_tokens=990), auth),
                await _post(srv.url, _body("sim-tiny", max_tokens=900), auth),
                await _post(srv.url, _body(max_tokens=64), {**auth, "X-Sim-Fault": "429"}),
            ]

        async def models(headers: dict) -> int:
            async with aiohttp.ClientSession() as session:
                async with session.get(srv.url + "/models", headers=headers) as resp:
                    return resp.status

        missing, wrong, overflow, fits, fault = asyncio.run(go())
        listed = [asyncio.run(models(h)) for h in ({}, {"Authorization": f"Bearer {GOOD}"})]
    assert listed == [401, 200]
    prompt = input_tokens(_body()["messages"])
    assert 10 < prompt < 100
    assert missing[0] == 401 and missing[2]["error"]["code"] is None  # as OpenAI: no code
    assert "didn't provide an API key" in missing[2]["error"]["message"]
    assert wrong[0] == 401 and wrong[2]["error"]["code"] == "invalid_api_key"
    assert BAD not in wrong[2]["error"]["message"]  # the key is shown masked
    assert overflow[0] == 400 and overflow[2] == {
        "error": {
            "message": "This model's maximum context length is 1000 tokens. However, you "
            f"requested {prompt + 990} tokens ({prompt} in the messages, 990 in the completion)."
            " Please reduce the length of the messages or completion.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    assert fits[0] == 200
    assert fault[0] == 429 and fault[2]["error"]["code"] == "rate_limit_exceeded"
    for status, _, body in (missing, wrong, overflow, fault):  # what the taxonomy makes of them
        label = {401: "auth_error", 400: "context_overflow", 429: "rate_limited"}[status]
        assert classify_http(status, json.dumps(body)).status == label


def test_reasoning_effort_is_refused_by_a_model_without_reasoning():
    with ServerThread(time_scale=0) as srv:

        async def go():
            effort = {"reasoning_effort": "high", "max_tokens": 64}
            return [
                await _post(srv.url, _body("sim-small", **effort)),
                await _post(srv.url, _body("sim-reasoner", **effort)),
            ]

        refused, accepted = asyncio.run(go())
    assert refused[0] == 400 and refused[2]["error"]["code"] == "unsupported_parameter"
    assert refused[2]["error"]["param"] == "reasoning_effort"
    assert classify_http(400, json.dumps(refused[2])).status == "bad_request"
    assert accepted[0] == 200


def test_content_filter_cached_and_reasoning_tokens():
    with ServerThread(time_scale=0) as srv:

        async def go():
            filtered = _body(max_tokens=64)
            long = _body(messages=[{"role": "system", "content": RULES},
                                   {"role": "user", "content": QUESTION}])  # fmt: skip
            reasoner = _body("sim-reasoner", reasoning_effort="low", max_tokens=4000)
            async with aiohttp.ClientSession() as session:
                streamed = {**filtered, "stream": True}
                headers = {"X-Sim-Fault": "content_filter"}
                async with session.post(srv.url + "/chat/completions", json=streamed,
                                        headers=headers) as resp:  # fmt: skip
                    events = [ln[6:].strip() for ln in (await resp.text()).splitlines()
                              if ln.startswith("data: ")]  # fmt: skip
            finishes = [c["finish_reason"] for e in events[:-1]
                        for c in json.loads(e)["choices"] if c["finish_reason"]]  # fmt: skip
            assert events[-1] == "[DONE]" and finishes == ["content_filter"]
            return [
                await _post(srv.url, filtered, {"X-Sim-Fault": "content_filter"}),
                [(await _post(srv.url, long))[2]["usage"] for _ in range(2)],
                await _post(srv.url, {**reasoner, "n": 3}, {"X-Sample-Index": "4"}),
                [
                    (await _post(srv.url, reasoner, {"X-Sample-Index": str(i)}))[2]["usage"]
                    for i in (4, 5, 6)
                ],
            ]

        filtered, (first, second), (_, _, many), singles = asyncio.run(go())
    assert filtered[0] == 200
    choice = filtered[2]["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["content"] == ""
    assert first["prompt_tokens"] >= 1024
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    cached = second["prompt_tokens_details"]["cached_tokens"]
    assert cached % 128 == 0 and first["prompt_tokens"] - 128 < cached <= first["prompt_tokens"]
    # n = 3: the prompt once, each choice's completion and reasoning summed
    usage = many["usage"]
    assert usage["prompt_tokens"] == singles[0]["prompt_tokens"]
    reasoning = [u["completion_tokens_details"]["reasoning_tokens"] for u in singles]
    assert all(r > 0 for r in reasoning)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == sum(reasoning)
    assert usage["completion_tokens"] == sum(u["completion_tokens"] for u in singles)


def test_the_limiter_answers_like_openai_and_anthropic():
    with ServerThread(time_scale=0, rpm=6, tpm=100_000) as srv:  # a burst of 1, then 1 per 10 s

        async def go():
            chat = [await _post(srv.url, _body(max_tokens=64)) for _ in range(2)]
            ant = {"model": "sim-large", "max_tokens": 64,
                   "messages": [{"role": "user", "content": QUESTION}]}  # fmt: skip
            base = srv.url.removesuffix("/v1")
            key = {"x-api-key": "sk-ant-test"}
            messages = [await _post(base, ant, key, "/v1/messages") for _ in range(2)]
            return chat, messages

        (ok, limited), (ant_ok, ant_limited) = asyncio.run(go())
    assert ok[0] == 200 and ok[1]["x-ratelimit-limit-requests"] == "6"
    assert ok[1]["x-ratelimit-remaining-requests"] == "0" and "retry-after" not in ok[1]
    assert ok[1]["x-ratelimit-limit-tokens"] == "100000"
    assert limited[0] == 429 and limited[2]["error"]["type"] == "requests"
    assert limited[2]["error"]["code"] == "rate_limit_exceeded"
    assert 9 < float(limited[1]["retry-after"]) <= 10
    assert limited[1]["x-ratelimit-reset-requests"].endswith("s")
    assert ant_ok[0] == 200 and ant_ok[1]["anthropic-ratelimit-requests-limit"] == "6"
    assert ant_limited[0] == 429 and ant_limited[2]["error"]["type"] == "rate_limit_error"
    assert ant_limited[1]["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert 9 < float(ant_limited[1]["retry-after"]) <= 10


def test_anthropic_route_takes_the_servers_keys_and_window():
    with ServerThread(time_scale=0, api_keys=(GOOD,), profiles=TINY) as srv:
        base = srv.url.removesuffix("/v1")

        async def go():
            body = {"model": "sim-tiny", "max_tokens": 64,
                    "messages": [{"role": "user", "content": RULES}]}  # fmt: skip
            return [
                await _post(base, body, {"x-api-key": BAD}, "/v1/messages"),
                await _post(base, body, {"x-api-key": GOOD}, "/v1/messages"),
            ]

        wrong, long = asyncio.run(go())
    assert wrong[0] == 401 and wrong[2]["error"]["type"] == "authentication_error"
    assert long[0] == 400 and long[2]["error"]["message"].startswith("prompt is too long")
    assert "> 1000 maximum" in long[2]["error"]["message"]


# -- the same labels through both transports ------------------------------------------------

TRANSPORTS = ("direct", "litellm")


def test_both_transports_give_the_same_labels(monkeypatch):
    monkeypatch.setenv("TTS_SIM_GOOD", GOOD)
    monkeypatch.setenv("TTS_SIM_BAD", BAD)
    with (
        ServerThread(time_scale=0, api_keys=(GOOD,), profiles=TINY) as srv,
        ServerThread(time_scale=0, rpm=6) as limited_srv,
    ):

        def spec(transport: str, model: str = "openai/sim-small", key: str = "TTS_SIM_GOOD",
                 url: str = srv.url, **params) -> ModelSpec:  # fmt: skip
            params = {"api_base": url, "transport": transport, **params}
            return ModelSpec(model, max_tokens=64, api_key_env=key, params=params)

        async def go(transport: str) -> dict[str, object]:
            client = Client(limits=Limits(concurrency=4, timeout_s=20, retries=0), seed=0)
            messages = [{"role": "user", "content": QUESTION}]
            # its own model per transport: each has its own bucket on the limited server
            limited_model = "openai/sim-small" if transport == "direct" else "openai/sim-large"
            cases = {
                "ok": spec(transport),
                "auth_error": spec(transport, key="TTS_SIM_BAD"),
                "not_found": spec(transport, "openai/sim-nothing"),
                "context_overflow": spec(transport, "openai/sim-tiny").with_(max_tokens=2000),
                "content_filter": spec(transport, extra_headers={"X-Sim-Fault": "content_filter"}),
            }
            try:
                out = {name: await client.generate(s, messages) for name, s in cases.items()}
                # The bucket's one request spent elsewhere, so this client meets the 429.
                spent = await _post(limited_srv.url, _body(limited_model.removeprefix("openai/")))
                assert spent[0] == 200
                limited = spec(transport, limited_model, url=limited_srv.url)
                out["rate_limited"] = await client.generate(limited, messages)
                return out
            finally:
                await client.aclose()

        results = {t: asyncio.run(go(t)) for t in TRANSPORTS}
    for transport, out in results.items():
        got = {name: c.status for name, c in out.items()}
        want = {name: name for name in out} | {"ok": "ok"}
        assert got == want, (transport, {n: c.error for n, c in out.items()})
        assert out["content_filter"].finish_reason == "content_filter"


# -- the whole CLI --------------------------------------------------------------------------


def _run_args(suite: Path, out: Path) -> list[str]:
    # The preflight would stop the fatal configs before they run; the labels are the point.
    return ["run", str(suite), "--out", str(out), "--run-id", "r", "--quiet", "--no-report",
            "--no-cache", "--no-preflight"]  # fmt: skip


def _suite(tmp: Path, base: str, configs: list[dict]) -> Path:
    data = {**demo_suite(), "gates": [], "baseline": configs[0]["name"]}
    data["dataset"]["sample"]["size"] = 6
    data["prompt"] = {**data["prompt"], "system": RULES}
    data["limits"] = {"concurrency": 4, "timeout_s": 30, "retries": 1}
    price = {"input": 1.0, "cached_input": 0.1, "output": 2.0}
    data["pricing"] = {"openai/sim-small": price, "openai/sim-reasoner": price}
    data["configs"] = configs
    return write_suite(tmp / "suite.yaml", data)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x]


def _configs(base: str, kinds: dict[str, dict]) -> list[dict]:
    """One `single` config per (kind, transport); a kind's `params` join the transport's."""
    out = []
    for transport in TRANSPORTS:
        for kind, extra in kinds.items():
            cfg = {"name": f"{kind}-{transport}", "strategy": "single",
                   "model": "openai/sim-small", "api_base": base, "api_key_env": "TTS_SIM_GOOD",
                   **extra}  # fmt: skip
            cfg["params"] = {"transport": transport, **extra.get("params", {})}
            out.append(cfg)
    return out


def test_a_run_through_both_transports_records_tokens_and_labels(tmp_path):
    with ServerThread(time_scale=0, api_keys=(GOOD,), profiles=TINY) as srv:
        kinds = {
            "ok": {},
            "reason": {"model": "openai/sim-reasoner", "reasoning_effort": "low",
                       "max_tokens": 4000},
            "overflow": {"model": "openai/sim-tiny"},
            "filtered": {"params": {"extra_headers": {"X-Sim-Fault": "content_filter"}}},
            "limited": {"params": {"extra_headers": {"X-Sim-Fault": "429",
                                                     "X-Sim-Retry-After": "0"}}},
            # fatal for their config: it stops, the others run on
            "auth": {"api_key_env": "TTS_SIM_BAD"},
            "missing": {"model": "openai/sim-nothing"},
        }  # fmt: skip
        suite = _suite(tmp_path, srv.url, _configs(srv.url, kinds))
        proc = cli(
            *_run_args(suite, tmp_path / "out"), env={"TTS_SIM_GOOD": GOOD, "TTS_SIM_BAD": BAD}
        )
        run = tmp_path / "out" / "r"
        assert (run / "calls.jsonl").exists(), proc.stderr[-3000:]
    calls = _lines(run / "calls.jsonl")
    by: dict[str, list[dict]] = {}
    for c in calls:
        by.setdefault(c["config"], []).append(c)
    want = {"ok": "ok", "reason": "ok", "overflow": "context_overflow",
            "filtered": "content_filter", "limited": "rate_limited", "auth": "auth_error",
            "missing": "not_found"}  # fmt: skip
    for kind, status in want.items():
        for t in TRANSPORTS:
            statuses = {c["status"] for c in by[f"{kind}-{t}"]}
            assert statuses == {status}, (kind, t, [c.get("error") for c in by[f"{kind}-{t}"]])
    for t in TRANSPORTS:
        assert {c["finish_reason"] for c in by[f"filtered-{t}"]} == {"content_filter"}
        assert all(c["retries"] == 1 for c in by[f"limited-{t}"])
        ok = by[f"ok-{t}"]
        assert len(ok) == 6 and all(c["input_tokens"] >= 1024 for c in ok)
        for c in ok:  # cached at the cache rate: the cost is recomputed from the tokens
            assert c["cached_tokens"] % 128 == 0 and c["cached_tokens"] <= c["input_tokens"]
            uncached = c["input_tokens"] - c["cached_tokens"]
            cost = (uncached * 1.0 + c["cached_tokens"] * 0.1 + c["output_tokens"] * 2.0) / 1e6
            assert c["cost_usd"] == pytest.approx(cost, rel=1e-9)
        reason = by[f"reason-{t}"]
        for c in reason:  # reasoning tokens billed at the output rate
            assert c["reasoning_tokens"] > 0
            uncached = c["input_tokens"] - c["cached_tokens"]
            out = c["output_tokens"] + c["reasoning_tokens"]
            cost = (uncached * 1.0 + c["cached_tokens"] * 0.1 + out * 2.0) / 1e6
            assert c["cost_usd"] == pytest.approx(cost, rel=1e-9)
    # The system prompt is shared: only the first request of each model wrote the cache.
    for model in ("openai/sim-small", "openai/sim-reasoner"):
        served = [c for c in calls if c["model"] == model and c["status"] == "ok"]
        assert sum(c["cached_tokens"] == 0 for c in served) == 1, model
        assert all(c["cached_tokens"] >= 1024 or c["cached_tokens"] == 0 for c in served)
    records = _lines(run / "records.jsonl")
    assert all(r["correct"] is None for r in records if r["config"].startswith("limited"))
