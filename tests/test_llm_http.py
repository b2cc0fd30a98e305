# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""The client against a real HTTP server on 127.0.0.1 (the simulator server with faults on
demand), through the direct aiohttp transport and through litellm's own HTTP path."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import pytest
from fakeserver import MESSAGES, fake_sim, limits, sim_server  # noqa: F401

from tts_bench.llm import Client
from tts_bench.llm.backends import choose
from tts_bench.llm.backends.base import parse_retry_after, usage_from_openai
from tts_bench.llm.types import CALL_STATUSES, ModelSpec

pytestmark = pytest.mark.usefixtures("fake_sim")

TRANSPORTS = ["direct", "litellm"]


def spec(srv, transport: str, headers: dict[str, str] | None = None, **params) -> ModelSpec:
    return ModelSpec(
        "openai/sim-small",
        params={
            "api_base": srv.url,
            "transport": transport,
            "extra_headers": headers or {},
            **params,
        },
    )


def run(client_limits, coro_fn):
    async def main():
        client = Client(limits=client_limits, backoff_s=0.02)
        try:
            return await coro_fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def hits_for(srv, since: float):
    return [h for h in srv.log if h.at >= since]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ok_call_reports_usage_and_labels(sim_server, transport):
    c = run(limits(), lambda cl: cl.generate(spec(sim_server, transport), MESSAGES, sample_index=1))
    assert c.status == "ok" and c.retries == 0 and c.error is None
    assert c.text.startswith("Final answer: ")
    assert c.usage.input_tokens > 0 and c.usage.output_tokens == 20
    assert c.model == "openai/sim-small" and not c.simulated and not c.cache_hit
    # `openai/sim-small` is the simulator over HTTP: priced from its profile.
    assert c.cost_usd == pytest.approx((c.usage.input_tokens * 0.5 + 20 * 1.5) / 1e6)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_429_retry_after_is_honoured(sim_server, transport):
    t0 = time.monotonic()
    headers = {"X-Sim-Fault": "429", "X-Sim-Fault-Times": "2", "X-Sim-Retry-After": "1"}
    c = run(limits(), lambda cl: cl.generate(spec(sim_server, transport, headers), MESSAGES))
    assert c.status == "ok" and c.retries == 2
    hits = hits_for(sim_server, t0)
    assert [h.fault for h in hits] == ["429", "429", None]
    gaps = [b.at - a.at for a, b in zip(hits, hits[1:], strict=False)]
    assert all(g >= 0.9 for g in gaps), gaps  # waited at least the Retry-After each time
    assert c.latency_s >= 1.8  # the user waited through both Retry-After pauses


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_retry_after_wait_is_capped(sim_server, transport):
    t0 = time.monotonic()
    headers = {"X-Sim-Fault": "429", "X-Sim-Fault-Times": "1", "X-Sim-Retry-After": "120"}
    c = run(
        limits(max_retry_wait_s=0.2),
        lambda cl: cl.generate(spec(sim_server, transport, headers), MESSAGES, sample_index=2),
    )
    assert c.status == "ok" and c.retries == 1
    a, b = hits_for(sim_server, t0)
    assert 0.15 <= b.at - a.at < 60  # capped at 0.2 s, far from the 120 s asked for


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("429", "rate_limited"),
        ("500", "server_error"),
        ("503", "server_error"),
        ("slow", "timeout"),
        ("malformed", "malformed"),
        ("empty", "malformed"),
        ("drop", "connection_error"),
    ],
)
def test_persistent_faults_are_retried_then_labelled(sim_server, transport, fault, status):
    headers = {"X-Sim-Fault": fault, "X-Sim-Retry-After": "0.05"}
    t0 = time.monotonic()
    c = run(
        limits(retries=2, timeout_s=0.5),
        lambda cl: cl.generate(spec(sim_server, transport, headers), MESSAGES, sample_index=3),
    )
    assert c.status == status, c.error
    assert c.retries == 2 and c.error
    assert c.text == "" and c.finish_reason is None
    assert len(hits_for(sim_server, t0)) == 3  # first attempt + 2 retries
    if fault == "slow":
        assert c.latency_s >= 3 * 0.5 * 0.9  # three attempts, each cut at the timeout


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["500", "slow", "malformed"])
def test_transient_fault_recovers(sim_server, transport, fault):
    headers = {"X-Sim-Fault": fault, "X-Sim-Fault-Times": "1"}
    c = run(
        limits(timeout_s=0.5),
        lambda cl: cl.generate(spec(sim_server, transport, headers), MESSAGES, sample_index=4),
    )
    assert c.status == "ok" and c.retries == 1
    if fault == "slow":
        assert c.latency_s >= 0.45  # the timed-out attempt counts in what the user waited


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_model_is_not_found_and_not_retried(sim_server, transport):
    t0 = time.monotonic()
    bad = ModelSpec(
        "openai/no-such-model", params={"api_base": sim_server.url, "transport": transport}
    )
    c = run(limits(), lambda cl: cl.generate(bad, MESSAGES))
    assert c.status == "not_found" and c.retries == 0, c.error
    assert len(hits_for(sim_server, t0)) == 1


def test_connection_refused_is_labelled():
    dead = ModelSpec("openai/x", params={"api_base": "http://127.0.0.1:9/v1"})
    c = run(limits(retries=1), lambda cl: cl.generate(dead, MESSAGES))
    assert c.status == "connection_error" and c.retries == 1
    assert c.status in CALL_STATUSES


def test_concurrency_limit_holds_on_the_server(sim_server):
    from tts_bench.sim.server import ServerThread

    with ServerThread(time_scale=0.2) as srv:  # fake latency 0.5 s -> 0.1 s real

        async def go(cl):
            s = spec(srv, "direct")
            return await asyncio.gather(
                *(cl.generate(s, MESSAGES, sample_index=i) for i in range(12))
            )

        out = run(limits(concurrency=3), go)
        assert all(c.ok for c in out)
        assert srv.server.max_in_flight <= 3
        assert srv.server.max_in_flight >= 2  # the limit is not serialising everything


def test_rpm_limit_spaces_requests(sim_server):
    t0 = time.monotonic()

    async def go(cl):
        s = spec(sim_server, "direct")
        return await asyncio.gather(
            *(cl.generate(s, MESSAGES, sample_index=50 + i) for i in range(6))
        )

    out = run(limits(rpm=120), go)  # 2 per second, burst 2
    assert all(c.ok for c in out)
    hits = hits_for(sim_server, t0)
    assert len(hits) == 6
    assert hits[-1].at - hits[0].at >= 1.8  # 4 requests beyond the burst at 2/s


def test_transport_choice():
    assert choose(ModelSpec("sim/small")) == "sim"
    assert choose(ModelSpec("openai/x", params={"api_base": "http://h/v1"})) == "direct"
    assert (
        choose(ModelSpec("openai/x", params={"api_base": "http://h/v1", "transport": "litellm"}))
        == "litellm"
    )
    assert choose(ModelSpec("anthropic/claude-x")) == "litellm"
    assert choose(ModelSpec("ollama/llama3", params={"api_base": "http://h"})) == "litellm"


def test_retry_after_parsing_and_usage_fields():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 <= later <= 31
    usage, known = usage_from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 70,
            "completion_tokens_details": {"reasoning_tokens": 50},
            "prompt_tokens_details": {"cached_tokens": 40},
        }
    )
    assert known and (usage.input_tokens, usage.output_tokens) == (100, 20)
    assert (usage.reasoning_tokens, usage.cached_tokens) == (50, 40)
    assert usage_from_openai(None)[1] is False
