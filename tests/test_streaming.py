# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""`stream: true`: server-sent events through the direct transport and litellm against
`sim serve`, the in-process simulator's time to first token, records and the report keeping
`ttft_s`, broken streams retried and labelled, and rate-limit headers on replies and errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import demo_suite, write_suite
from fakeserver import MESSAGES, limits, sim_server  # noqa: F401

from tts_bench.errors import UserError
from tts_bench.llm import Client
from tts_bench.llm.backends.base import CallError, rate_limit_headers
from tts_bench.llm.backends.litellm_backend import LiteLLMBackend
from tts_bench.llm.backends.openai_http import OpenAIHTTPBackend
from tts_bench.llm.backends.stream import SSEParser, StreamAssembler
from tts_bench.llm.types import CallRecord, ModelSpec
from tts_bench.records import first_token_s
from tts_bench.sim.server import ServerThread
from tts_bench.store import load_records

TRANSPORTS = ["direct", "litellm"]


def run(client_limits, coro_fn):
    async def main():
        client = Client(limits=client_limits, backoff_s=0.01)
        try:
            return await coro_fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def remote(srv, transport: str, headers: dict | None = None, **params) -> ModelSpec:
    return ModelSpec(
        "openai/sim-small",
        max_tokens=256,
        params={"api_base": srv.url, "transport": transport, "extra_headers": headers or {},
                **params},
    )  # fmt: skip


# -- a whole run: streamed and plain configs side by side, then a cached replay ----------------


def _suite(tmp: Path, base: str) -> Path:
    data = {**demo_suite(), "gates": [], "baseline": "plain_direct"}
    data["dataset"]["sample"]["size"] = 10
    http = {"model": "openai/sim-small", "api_base": base}
    # The transport is not part of a cache key (the answer is the same); `user`, which the
    # simulator ignores, gives litellm's configs cache rows of their own, so each replay below
    # has exactly one original to match.
    lit = {"transport": "litellm", "user": "litellm"}
    data["configs"] = [
        {"name": "plain_direct", "strategy": "single", **http},
        {"name": "stream_direct", "strategy": "single", **http, "stream": True},
        {"name": "plain_litellm", "strategy": "single", **http, "params": lit},
        {"name": "stream_litellm", "strategy": "single", **http, "stream": True, "params": lit},
        {"name": "plain_sim", "strategy": "single"},
        {"name": "stream_sim", "strategy": "single", "stream": True},
    ]  # fmt: skip
    data["limits"] = {"concurrency": 8, "timeout_s": 30, "retries": 1}
    return write_suite(tmp / "suite.yaml", data)


def _by_pair(run_dir: Path) -> dict[tuple[str, str], dict]:
    return {(r["config"], str(r["item_id"])): r for r in load_records(run_dir)}


def test_a_streamed_run_matches_a_plain_one_and_replays_its_timings(tmp_path):
    from tts_bench.report import write_report
    from tts_bench.runner import Runner
    from tts_bench.suite import load

    out = tmp_path / "out"
    with ServerThread(time_scale=0.02) as srv:
        suite = load(_suite(tmp_path, srv.url))
        for run_id in ("a", "b"):  # b: a new run over a's response cache
            result = Runner(suite, out_dir=out, run_id=run_id).run()
            assert result.status == "complete", result.warnings
    write_report(out / "b")
    a, b = _by_pair(out / "a"), _by_pair(out / "b")
    items = sorted({item for _, item in a})
    assert len(a) == 60 and len(items) == 10
    for item in items:
        base = a[("plain_direct", item)]
        for config in (
            "stream_direct",
            "plain_litellm",
            "stream_litellm",
            "plain_sim",
            "stream_sim",
        ):
            r = a[(config, item)]
            assert r["status"] == "ok", (config, r)
            # the same answer and tokens whether streamed or not, over HTTP or in process
            for key in ("output", "input_tokens", "output_tokens", "reasoning_tokens"):
                assert r[key] == base[key], (config, key)
        for config in ("plain_direct", "plain_litellm", "plain_sim"):
            assert a[(config, item)]["ttft_s"] is None
        for config in ("stream_direct", "stream_litellm", "stream_sim"):
            r = a[(config, item)]
            assert 0 < r["ttft_s"] < r["latency_s"], (config, r["ttft_s"], r["latency_s"])
            # generation speed after the first token: every output token over the rest
            rest = r["latency_s"] - r["ttft_s"]
            tokens = r["output_tokens"] + r["reasoning_tokens"]
            assert r["output_tps"] == pytest.approx(tokens / rest, rel=1e-2), (
                config
            )  # rounded times
        for config in ("plain_direct", "plain_litellm", "plain_sim"):
            assert a[(config, item)]["output_tps"] is None
    # the cached replay (a new run over the same cache) keeps every original timing
    for key, r in a.items():
        again = b[key]
        assert again["cache_hits"] == again["n_calls"] == 1, key
        assert again["ttft_s"] == r["ttft_s"] and again["latency_s"] == r["latency_s"], key
    # summary and report: P50/P95 TTFT for the streamed configs only
    summary = json.loads((out / "b" / "summary.json").read_text())
    ttft = {c["config"]: c.get("ttft") for c in summary["configs"]}
    assert ttft["plain_direct"] is None and ttft["plain_sim"] is None
    for config in ("stream_direct", "stream_litellm", "stream_sim"):
        block = ttft[config]
        assert block["n"] == 10 and block["n_unknown"] == 0
        assert 0 < block["p50"]["value"] <= block["p95"]["value"]
        assert block["output_tps"]["n"] == 10 and block["output_tps"]["p50"]["value"] > 0
    html = (out / "b" / "report.html").read_text()
    assert html.count('class="ci ttft"') == 3 and "time to the first streamed token" in html


def test_in_process_ttft_is_sim_serves_first_chunk():
    from tts_bench import sim
    from tts_bench.sim.wire import schedule

    async def go(cl):
        spec = ModelSpec("sim/small", temperature=0.7, params={"stream": True})
        return [await cl.generate(spec, MESSAGES, sample_index=i) for i in range(4)]

    for i, c in enumerate(run(limits(), go)):
        out = sim.simulate("sim/small", MESSAGES, temperature=0.7, max_tokens=512,
                           sample_index=i, seed=0)  # fmt: skip
        first = next(at for at, _, delta, _ in schedule([out]) if delta.get("content"))
        assert c.ttft_s == first == out.ttft_s and 0 < c.ttft_s < c.latency_s
    plain = run(limits(), lambda cl: cl.generate(ModelSpec("sim/small"), MESSAGES))
    assert plain.ttft_s is None
    with pytest.raises(UserError, match="stream must be true or false"):
        run(limits(), lambda cl: cl.generate(ModelSpec("sim/small", params={"stream": "yes"}),
                                             MESSAGES))  # fmt: skip


def test_a_stream_of_several_choices_matches_the_plain_body(sim_server):
    async def go():
        backend = OpenAIHTTPBackend()
        try:
            return [
                await backend.call(remote(sim_server, "direct", stream=stream).with_(
                                   temperature=0.9), MESSAGES,
                                   sample_index=30, n=3, timeout_s=10, api_key=None)
                for stream in (False, True)
            ]  # fmt: skip
        finally:
            await backend.aclose()

    plain, streamed = asyncio.run(go())
    assert [r.text for r in streamed] == [r.text for r in plain]
    assert len({r.text for r in plain}) > 1  # different samples, kept apart
    assert [r.finish_reason for r in streamed] == [r.finish_reason for r in plain]
    assert all(r.usage == plain[0].usage and r.usage_known for r in streamed)
    assert all(r.ttft_s is not None and r.ttft_s > 0 for r in streamed)
    assert all(r.ttft_s is None for r in plain)


# -- broken streams, like broken bodies, are retried and labelled -------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_truncated_stream_is_retried_then_labelled(sim_server, transport):
    cut = {"X-Sim-Fault": "truncated_stream"}
    once = run(limits(retries=2), lambda cl: cl.generate(
        remote(sim_server, transport, {**cut, "X-Sim-Fault-Times": "1"}, stream=True), MESSAGES,
        sample_index=7))  # fmt: skip
    assert once.status == "ok" and once.retries == 1 and once.ttft_s is not None
    always = run(limits(retries=2), lambda cl: cl.generate(
        remote(sim_server, transport, cut, stream=True), MESSAGES, sample_index=8))  # fmt: skip
    assert always.status == "malformed" and always.retries == 2, always.error
    assert "stream broken off" in always.error and always.ttft_s is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_faults_on_a_stream_request_get_the_plain_labels(sim_server, transport):
    labels = {"429": "rate_limited", "503": "server_error", "malformed": "malformed",
              "empty": "malformed", "drop": "connection_error"}  # fmt: skip

    async def go(cl):
        return {
            fault: await cl.generate(
                remote(
                    sim_server,
                    transport,
                    {"X-Sim-Fault": fault, "X-Sim-Retry-After": "0"},
                    stream=True,
                ),
                MESSAGES,
                sample_index=20,
            )  # fmt: skip
            for fault in labels
        }

    got = run(limits(retries=1), go)
    assert {f: c.status for f, c in got.items()} == labels
    assert all(c.retries == 1 for c in got.values())


def test_a_stream_over_max_response_bytes_fails_as_api_error(sim_server):
    c = run(limits(max_response_bytes=300), lambda cl: cl.generate(
        remote(sim_server, "direct", stream=True), MESSAGES))  # fmt: skip
    assert c.status == "api_error" and c.retries == 0 and "max_response_bytes" in c.error


def test_sse_parser_handles_split_lines_comments_and_crlf():
    parser = SSEParser()
    raw = b': keep-alive\r\n\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: x\ndata: [DONE]\n\ndata: tail'
    got = []
    for i in range(0, len(raw), 5):  # arbitrary network chunking
        got += parser.feed(raw[i : i + 5])
    assert got == ['{"a":\n1}', "[DONE]"]
    assert parser.close() == ["tail"]
    with pytest.raises(CallError) as err:
        SSEParser().feed(b"data: \xff\xfe\n\n")
    assert err.value.status == "malformed"


def _chunk(index: int, finish: str | None = None, **delta) -> dict:
    return {"choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def test_assembler_joins_choices_and_times_each_first_token():
    s = StreamAssembler(started=10.0)
    s.feed(_chunk(0, role="assistant", content=""), 10.1)  # the opening chunk is not a token
    s.feed(_chunk(1, reasoning_content="hmm"), 10.2)  # thinking is a first token
    s.feed(_chunk(0, content="Hel"), 10.3)
    s.feed(_chunk(1, content="B"), 10.4)
    s.feed(_chunk(0, content="lo"), 10.5)
    s.feed(_chunk(0, "stop"), 10.6)
    s.feed(_chunk(1, "length"), 10.7)
    s.feed(_chunk(2, "stop", content=""), 10.8)  # an empty answer: its finish is its first
    s.feed({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9}}, 10.9)
    s.feed_data("[DONE]", 11.0)
    r = s.replies(strict=True, headers={"x-ratelimit-remaining-requests": "3"})
    assert [x.text for x in r] == ["Hello", "B", ""]
    assert [x.finish_reason for x in r] == ["stop", "length", "stop"]
    assert [x.ttft_s for x in r] == pytest.approx([0.3, 0.2, 0.8])
    assert r[0].usage.input_tokens == 5 and r[0].usage.output_tokens == 9 and r[0].usage_known
    assert r[0].headers == {"x-ratelimit-remaining-requests": "3"}


def test_assembler_refuses_broken_streams():
    no_usage = StreamAssembler(0.0)
    no_usage.feed(_chunk(0, "stop", content="x"), 1.0)
    assert not no_usage.replies(strict=True)[0].usage_known  # no usage chunk: cost unknown
    cut = StreamAssembler(0.0)
    cut.feed(_chunk(0, content="x"), 1.0)
    assert cut.replies(strict=False)[0].text == "x"  # litellm's own checks decide there
    cases = [
        lambda s: s.replies(strict=True),  # nothing at all
        lambda s: (s.feed(_chunk(0, content="x"), 1), s.replies(strict=True)),  # no finish
        # what litellm makes of a body it could not read as a stream: a finish, nothing else
        lambda s: (s.feed(_chunk(0, "stop"), 1), s.replies(strict=False)),
        lambda s: s.feed_data("{not json", 1),
        lambda s: s.feed([1, 2], 1),
        lambda s: s.feed({"choices": {"0": {}}}, 1),
        lambda s: s.feed(_chunk(0, content=7), 1),
    ]
    for case in cases:
        with pytest.raises(CallError) as err:
            case(StreamAssembler(0.0))
        assert err.value.status == "malformed" and err.value.retryable
    with pytest.raises(CallError) as err:
        StreamAssembler(0.0).feed({"error": {"message": "Overloaded", "code": 529}}, 1)
    assert err.value.status == "server_error" and "Overloaded" in err.value.message


# -- rate-limit headers on replies and errors, both transports ---------------------------------

_LIMITS = {"x-ratelimit-remaining-requests": "7", "X-RateLimit-Reset-Tokens": "2s",
           "anthropic-ratelimit-tokens-remaining": "900", "X-Request-Id": "abc"}  # fmt: skip


async def _quota_server(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if request.headers.get("X-Refuse"):
        return web.json_response(
            {"error": {"message": "Rate limit reached", "type": "requests", "code": None}},
            status=429, headers={**_LIMITS, "Retry-After": "3"},
        )  # fmt: skip
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": "hi"},
                  "finish_reason": "stop"}  # fmt: skip
        usage = {"prompt_tokens": 3, "completion_tokens": 1}
        return web.json_response({"choices": [choice], "usage": usage}, headers=_LIMITS)
    resp = web.StreamResponse(headers={**_LIMITS, "Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for chunk in (_chunk(0, content="hi"), _chunk(0, "stop"),
                  {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}):  # fmt: skip
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    return resp


def test_rate_limit_headers_reach_replies_and_errors():
    expected = {"x-ratelimit-remaining-requests": "7", "x-ratelimit-reset-tokens": "2s",
                "anthropic-ratelimit-tokens-remaining": "900"}  # fmt: skip

    async def go():
        app = web.Application()
        app.router.add_post("/v1/chat/completions", _quota_server)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("/v1"))
        out = {}
        try:
            for name, backend in (("direct", OpenAIHTTPBackend()), ("litellm", LiteLLMBackend())):
                for stream in (False, True):
                    spec = ModelSpec("openai/quota", params={"api_base": base, "stream": stream})
                    replies = await backend.call(spec, MESSAGES, sample_index=0, n=1,
                                                 timeout_s=10, api_key="sk-test")  # fmt: skip
                    out[(name, stream)] = replies[0]
                refused = ModelSpec("openai/quota", params={"api_base": base,
                                    "extra_headers": {"X-Refuse": "1"}})  # fmt: skip
                try:
                    await backend.call(refused, MESSAGES, sample_index=0, n=1, timeout_s=10,
                                       api_key="sk-test")  # fmt: skip
                except CallError as exc:
                    out[(name, "429")] = exc
                await backend.aclose()
        finally:
            await server.close()
        return out

    out = asyncio.run(go())
    for name in TRANSPORTS:
        for stream in (False, True):
            reply = out[(name, stream)]
            assert reply.text == "hi" and reply.usage.input_tokens == 3, (name, stream)
            assert {k: reply.headers[k] for k in expected} == expected, (name, stream)
            assert set(reply.headers) <= {*expected, "retry-after"}, reply.headers
            assert (reply.ttft_s is not None) == stream
        error = out[(name, "429")]
        assert error.status == "rate_limited" and error.retry_after == 3.0, name
        assert error.headers == {**expected, "retry-after": "3"}, (name, error.headers)
    assert rate_limit_headers(None) is None
    assert rate_limit_headers({"llm_provider-retry-after": "1", "date": "x"}) == {
        "retry-after": "1"
    }


# -- a record's time to first token: the first token on its critical path ----------------------


def _call(start: float | None, latency: float, ttft: float | None, index: int = 0, role="sample"):
    return CallRecord("i", "c", role, index, "m", 1, 1, 0, 0, 0.0, latency, "ok", 0, False,
                      ttft_s=ttft, started_s=start)  # fmt: skip


def test_record_ttft_follows_the_critical_path():
    assert first_token_s([]) is None
    assert first_token_s([_call(None, 2.0, 0.4)]) == 0.4  # one call: its own
    assert first_token_s([_call(None, 2.0, None)]) is None  # nothing streamed
    # a pool of three side by side, then a judge: the slowest sample starts the path
    pool = [_call(0.0, 2.0, 0.3, 0), _call(0.0, 3.0, 0.5, 1), _call(0.0, 1.0, 0.1, 2)]
    judge = _call(3.0, 1.0, 0.2, 0, "judge")
    assert first_token_s([*pool, judge]) == 0.5
    assert first_token_s([judge, *reversed(pool)]) == 0.5  # completion order does not matter
    # a failed primary, then the fallback that answered: the wait counts
    assert first_token_s([_call(0.0, 1.5, None), _call(1.5, 2.0, 0.25)]) == 1.75
    # start times unknown for several calls: unknown, never a guess
    assert first_token_s([_call(None, 2.0, 0.3), _call(None, 1.0, 0.2)]) is None


def test_store_checks_ttft_on_read(tmp_path):
    from tts_bench.store import RECORDS

    good = {"item_id": "1", "config": "c", "latency_s": 1.0, "ttft_s": None}
    for bad, words in ((-0.5, "ttft_s"), ("soon", "ttft_s"), (float("nan"), "ttft_s")):
        (tmp_path / RECORDS).write_text(
            json.dumps(good) + "\n" + json.dumps({**good, "item_id": "2", "ttft_s": bad}) + "\n"
        )
        with pytest.raises(UserError, match=words):
            load_records(tmp_path)
    (tmp_path / RECORDS).write_text(json.dumps({**good, "ttft_s": 0.25}) + "\n")
    assert load_records(tmp_path)[0]["ttft_s"] == 0.25


def test_a_streamed_pool_has_a_record_ttft_on_its_critical_path(tmp_path):
    from tts_bench.runner import Runner
    from tts_bench.suite import load

    data = {**demo_suite(), "gates": [], "baseline": "single"}
    data["dataset"]["sample"]["size"] = 6
    data["configs"] = [
        {"name": "single", "strategy": "single", "stream": True},
        {"name": "sc", "strategy": "self_consistency", "n": 3, "stream": True},
        {"name": "reflect", "strategy": "reflection", "stream": True},
    ]
    suite = load(write_suite(tmp_path / "suite.yaml", data))
    result = Runner(suite, out_dir=tmp_path / "out", run_id="r").run()
    assert result.status == "complete", result.warnings
    for r in load_records(tmp_path / "out" / "r"):
        # every call streamed, so every record has a first token, before its last byte
        assert r["ttft_s"] is not None and 0 < r["ttft_s"] < r["latency_s"], r["config"]
