# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""The OpenAI-compatible simulator server: endpoints, `n`, streaming, faults, used by the
openai SDK as any client would."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from fakeserver import MESSAGES, fake_sim, sim_server  # noqa: F401

from tts_bench.errors import UserError
from tts_bench.sim.server import ServerConfig, ServerThread, sim_model

pytestmark = pytest.mark.usefixtures("fake_sim")


async def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/chat/completions", json=body, headers=headers) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def stream(url: str, body: dict, headers: dict | None = None) -> list[str]:
    """The `data:` payloads of an SSE response, in order (may be cut short)."""
    events = []
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/chat/completions", json={**body, "stream": True}, headers=headers
        ) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            try:
                async for line in resp.content:
                    if line.startswith(b"data: "):
                        events.append(line[6:].decode().strip())
            except aiohttp.ClientPayloadError:
                pass
    return events


def body(model: str = "sim-small", **extra) -> dict:
    return {"model": model, "messages": MESSAGES, "temperature": 0.7, "max_tokens": 64, **extra}


def test_model_names():
    assert sim_model("sim-small") == sim_model("sim/small") == sim_model("openai/sim-small")
    assert sim_model("sim-small") == "sim/small"
    assert sim_model("gpt-4o") is None


def test_models_endpoint(sim_server):
    async def go():
        async with aiohttp.ClientSession() as s, s.get(f"{sim_server.url}/models") as r:
            return await r.json()

    ids = {m["id"] for m in asyncio.run(go())["data"]}
    assert {"sim-small", "sim-large", "sim-reasoner"} <= ids


def test_completion_shape_n_and_sample_index(sim_server):
    status, _, raw = asyncio.run(post(sim_server.url, body(n=3), {"X-Sample-Index": "5"}))
    data = json.loads(raw)
    assert status == 200 and data["object"] == "chat.completion"
    texts = [c["message"]["content"] for c in data["choices"]]
    assert len(texts) == 3 and len(set(texts)) == 3  # sample indices 5, 6, 7
    _, _, one = asyncio.run(post(sim_server.url, body(), {"X-Sample-Index": "6"}))
    assert json.loads(one)["choices"][0]["message"]["content"] == texts[1]
    # Without the header the body's seed is the sample index.
    _, _, seeded = asyncio.run(post(sim_server.url, body(seed=7)))
    assert json.loads(seeded)["choices"][0]["message"]["content"] == texts[2]
    usage = data["usage"]
    assert usage["completion_tokens"] == 60 and usage["total_tokens"] > 60


def test_unknown_model_is_404(sim_server):
    for name in ("gpt-5", "sim-nothing"):
        status, _, raw = asyncio.run(post(sim_server.url, body(name)))
        assert status == 404 and json.loads(raw) == {
            "error": {
                "message": f"The model `{name}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }


def test_stream_reassembles_the_text_and_reports_usage(sim_server):
    _, _, raw = asyncio.run(post(sim_server.url, body(), {"X-Sample-Index": "2"}))
    expected = json.loads(raw)["choices"][0]["message"]["content"]
    events = asyncio.run(
        stream(
            sim_server.url, body(stream_options={"include_usage": True}), {"X-Sample-Index": "2"}
        )
    )
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == expected
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)
    assert chunks[-1]["usage"]["completion_tokens"] == 20


def test_truncated_stream_has_no_done(sim_server):
    events = asyncio.run(stream(sim_server.url, body(), {"X-Sim-Fault": "truncated_stream"}))
    assert events and "[DONE]" not in events


@pytest.mark.parametrize(
    ("fault", "status"),
    [("429", 429), ("500", 500), ("503", 503), ("malformed", 200), ("empty", 200)],
)
def test_fault_headers(sim_server, fault, status):
    got, headers, raw = asyncio.run(
        post(sim_server.url, body(), {"X-Sim-Fault": fault, "X-Sim-Retry-After": "3"})
    )
    assert got == status
    if fault == "429":
        assert headers["Retry-After"] == "3"
    if fault == "malformed":
        with pytest.raises(ValueError):
            json.loads(raw)
    if fault == "empty":
        assert json.loads(raw)["choices"] == []


def test_fault_times_then_success(sim_server):
    headers = {"X-Sim-Fault": "500", "X-Sim-Fault-Times": "2", "X-Sample-Index": "41"}
    codes = [asyncio.run(post(sim_server.url, body(), headers))[0] for _ in range(3)]
    assert codes == [500, 500, 200]


def test_drop_closes_the_connection(sim_server):
    with pytest.raises(aiohttp.ServerDisconnectedError):
        asyncio.run(post(sim_server.url, body(), {"X-Sim-Fault": "drop"}))


def test_fault_rates_are_seeded_and_near_their_rates():
    def faults(seed: int) -> list[str | None]:
        with ServerThread(time_scale=0, faults={"429": 0.2, "500": 0.2}, seed=seed) as srv:

            async def go():
                for i in range(200):
                    await post(
                        srv.url, body(), {"X-Sample-Index": str(i), "X-Sim-Retry-After": "0"}
                    )

            asyncio.run(go())
            return [h.fault for h in srv.log]

    a, b, c = faults(1), faults(1), faults(2)
    assert a == b and a != c
    assert 20 <= a.count("429") <= 60 and 20 <= a.count("500") <= 60


def test_time_scale_sleeps_real_time():
    with ServerThread(time_scale=1.0) as srv:  # fake latency 0.5 s + 0.01 * sample index
        t0 = time.perf_counter()
        status, _, _ = asyncio.run(post(srv.url, body()))
        assert status == 200 and time.perf_counter() - t0 >= 0.45


def test_bad_config_is_a_user_error():
    with pytest.raises(UserError, match="unknown fault"):
        ServerConfig(fault_rates={"teapot": 0.1})
    with pytest.raises(UserError, match="more than 1"):
        ServerConfig(fault_rates={"429": 0.6, "500": 0.6})


def test_openai_sdk_can_use_it(sim_server):
    import openai

    async def go():
        client = openai.AsyncOpenAI(base_url=sim_server.url, api_key="unused", max_retries=0)
        reply = await client.chat.completions.create(
            model="sim-large", messages=MESSAGES, temperature=0.0, max_tokens=64
        )
        parts = []
        async for chunk in await client.chat.completions.create(
            model="sim-large", messages=MESSAGES, temperature=0.0, max_tokens=64, stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        await client.close()
        return reply, "".join(parts)

    reply, streamed = asyncio.run(go())
    assert reply.choices[0].message.content.startswith("Final answer:")
    assert streamed == reply.choices[0].message.content


@pytest.mark.parametrize(
    ("headers", "names"),
    [
        ({"X-Sim-Fault": "teapot"}, "X-Sim-Fault"),
        ({"X-Sample-Index": "abc"}, "X-Sample-Index"),
        ({"X-Sample-Index": "-1"}, "X-Sample-Index"),
        ({"X-Sim-Fault": "500", "X-Sim-Fault-Times": "twice"}, "X-Sim-Fault-Times"),
        ({"X-Sim-Fault": "429", "X-Sim-Retry-After": "soon"}, "X-Sim-Retry-After"),
        ({"X-Sim-Fault": "slow", "X-Sim-Slow-S": "long"}, "X-Sim-Slow-S"),
    ],
)
def test_bad_headers_are_400(sim_server, headers, names):
    seen = len(sim_server.log)
    status, _, raw = asyncio.run(post(sim_server.url, body(), headers))
    error = json.loads(raw)["error"]
    assert status == 400 and error["type"] == "invalid_request_error"
    assert names in error["message"]
    assert len(sim_server.log) == seen  # rejected before it counts as a request


def test_bad_body_seed_is_400(sim_server):
    status, _, raw = asyncio.run(post(sim_server.url, body(seed="abc")))
    assert status == 400 and "seed" in json.loads(raw)["error"]["message"]


def test_retry_after_and_slow_s_options():
    with ServerThread(time_scale=0, retry_after_s=7, slow_s=0.01) as srv:
        got, headers, _ = asyncio.run(post(srv.url, body(), {"X-Sim-Fault": "429"}))
        assert got == 429 and headers["Retry-After"] == "7"
        got, _, raw = asyncio.run(post(srv.url, body(), {"X-Sim-Fault": "slow"}))
        assert got == 200 and json.loads(raw)["choices"]
        assert srv.server is not None and srv.server.config.slow_s == 0.01
    with pytest.raises(UserError, match="--slow-s"):
        ServerConfig(slow_s=-1)
    with pytest.raises(UserError, match="--retry-after"):
        ServerConfig(retry_after_s=-1)
    with pytest.raises(UserError, match="sim_profiles.tiny"):
        ServerConfig(profiles={"tiny": {"base": "small", "no_such_knob": 1}})


def test_suite_profiles_are_served():
    with ServerThread(time_scale=0, profiles={"tiny": {"base": "small"}}) as srv:

        async def go():
            async with aiohttp.ClientSession() as s, s.get(f"{srv.url}/models") as r:
                return await r.json()

        assert "sim-tiny" in {m["id"] for m in asyncio.run(go())["data"]}
        status, _, _ = asyncio.run(post(srv.url, body("sim-tiny")))
        assert status == 200 and srv.log[-1].model == "sim/tiny"


def test_cli_flags_reach_the_server_config(tmp_path, monkeypatch):
    """`sim serve --slow-s --retry-after --profiles SUITE` -> run_server -> ServerConfig."""
    from typer.testing import CliRunner

    from tests.conftest import demo_suite, write_suite
    from tts_bench.cli import app
    from tts_bench.sim import server

    configs: list[ServerConfig] = []

    async def fake_serve(host, port, time_scale, faults, seed, *, ready=None, **options):
        configs.append(ServerConfig(time_scale, dict(faults or {}), seed, **options))

    monkeypatch.setattr(server, "serve", fake_serve)
    suite = write_suite(
        tmp_path / "s.yaml", demo_suite(sim_profiles={"tiny": {"cot_step_error": 0.05}})
    )
    args = ["sim", "serve", "--time-scale", "0.5", "--fault", "slow=0.1", "--seed", "3"]
    args += ["--slow-s", "2.5", "--retry-after", "4", "--profiles", str(suite)]
    args += ["--rpm", "120", "--tpm", "50000", "--api-key-env", "SIM_SERVE_KEY"]
    monkeypatch.setenv("SIM_SERVE_KEY", "sk-serve-1234")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (config,) = configs
    assert (config.time_scale, config.fault_rates, config.seed) == (0.5, {"slow": 0.1}, 3)
    assert (config.slow_s, config.retry_after_s) == (2.5, 4.0)
    assert config.profiles == {"tiny": {"cot_step_error": 0.05}}
    assert (config.rpm, config.tpm, config.api_keys) == (120, 50000, ("sk-serve-1234",))
    monkeypatch.delenv("SIM_SERVE_KEY")
    result = CliRunner().invoke(app, ["sim", "serve", "--api-key-env", "SIM_SERVE_KEY"])
    assert isinstance(result.exception, UserError)  # main() prints it as one line, exit 2
    assert "SIM_SERVE_KEY" in str(result.exception) and len(configs) == 1
    result = CliRunner().invoke(app, ["sim", "serve", "--rpm", "0"])
    assert result.exit_code == 2 and "--rpm" in result.output


def test_reasoner_without_max_tokens_is_not_cut(monkeypatch):
    """No max_tokens in the request: high effort still fits (the real simulator)."""
    import tts_bench.sim as sim
    from tts_bench.data.builtin import generate
    from tts_bench.sim.model import simulate

    monkeypatch.setattr(sim, "simulate", simulate)
    hard = [r for r in generate("arithmetic", {"size": 60, "seed": 5}) if r["difficulty"] == "hard"]
    question = hard[0]["question"] + "\nEnd with 'Final answer: <number>'."
    request = {
        "model": "sim-reasoner",
        "messages": [{"role": "user", "content": question}],
        "reasoning_effort": "high",
    }
    with ServerThread(time_scale=0) as srv:
        status, _, raw = asyncio.run(post(srv.url, request))
        capped, _, cut = asyncio.run(post(srv.url, {**request, "max_tokens": 512}))
    choice = json.loads(raw)["choices"][0]
    assert status == 200 and choice["finish_reason"] == "stop"
    assert "Final answer:" in choice["message"]["content"]
    assert json.loads(raw)["usage"]["completion_tokens_details"]["reasoning_tokens"] > 512
    assert capped == 200 and json.loads(cut)["choices"][0]["finish_reason"] == "length"


def test_stream_choices_interleave_and_end_with_the_slowest():
    from fakeserver import FakeOut

    from tts_bench.sim.wire import schedule

    outs = [
        FakeOut("a" * 64, "stop", 10, 16, 0, latency_s=2.0),
        FakeOut("b" * 64, "length", 10, 16, 0, latency_s=1.0),
    ]
    events = schedule(outs)
    times = [e[0] for e in events]
    assert times == sorted(times) and times[-1] == 2.0  # the max latency, not the sum (3.0)
    order = [e[1] for e in events]
    assert order != sorted(order)  # the choices interleave
    for index, out in enumerate(outs):
        mine = [e for e in events if e[1] == index]
        assert "".join(e[2].get("content", "") for e in mine) == out.text
        assert mine[-1][3] == out.finish_reason and mine[-1][0] == out.latency_s


def test_stream_with_n_reassembles_every_choice(sim_server):
    headers = {"X-Sample-Index": "3"}
    _, _, raw = asyncio.run(post(sim_server.url, body(n=3), headers))
    expected = [c["message"]["content"] for c in json.loads(raw)["choices"]]
    events = asyncio.run(stream(sim_server.url, body(n=3), headers))
    assert events[-1] == "[DONE]"
    texts = ["", "", ""]
    for e in events[:-1]:
        for c in json.loads(e)["choices"]:
            texts[c["index"]] += c["delta"].get("content", "")
    assert texts == expected
