# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""Client behaviour that needs no network: the in-process simulator backend, the response
cache (per sample index, crash-safe) and prices (overrides, reasoning, unknown)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakeserver import MESSAGES, fake_sim, limits, sim_server  # noqa: F401

from tts_bench.errors import UserError
from tts_bench.llm import Client
from tts_bench.llm.cache import ResponseCache
from tts_bench.llm.pricing import PriceTable, Rate, cost_usd
from tts_bench.llm.types import ModelSpec, Usage
from tts_bench.suite import Price

pytestmark = pytest.mark.usefixtures("fake_sim")


def run(coro_fn, **kwargs):
    async def main():
        client = Client(limits=kwargs.pop("limits", limits()), backoff_s=0.02, **kwargs)
        try:
            return await coro_fn(client), client
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_sim_backend_in_process_reports_simulated_latency_and_cost():
    c, client = run(lambda cl: cl.generate(ModelSpec("sim/small"), MESSAGES, sample_index=2))
    assert c.ok and c.simulated and c.model == "sim/small"
    assert c.latency_s == pytest.approx(0.52)  # the simulator's latency, not wall time
    expected = (c.usage.input_tokens * 0.5 + c.usage.output_tokens * 1.5) / 1e6
    assert c.cost_usd == pytest.approx(expected)
    assert client.spent_usd == pytest.approx(expected)
    assert (client.n_calls, client.n_errors, client.n_cache_hits) == (1, 0, 0)


def test_cache_hits_per_sample_index(tmp_path: Path):
    path = tmp_path / "cache.sqlite"
    spec = ModelSpec("sim/small", temperature=0.8)

    async def go(cl):
        first = await cl.generate(spec, MESSAGES, sample_index=0)
        again = await cl.generate(spec, MESSAGES, sample_index=0)
        other = await cl.generate(spec, MESSAGES, sample_index=1)
        hotter = await cl.generate(spec.with_(temperature=0.9), MESSAGES, sample_index=0)
        longer = await cl.generate(spec.with_(max_tokens=100), MESSAGES, sample_index=0)
        return first, again, other, hotter, longer

    (first, again, other, hotter, longer), client = run(go, cache_path=path)
    assert not first.cache_hit and again.cache_hit
    assert (again.text, again.cost_usd, again.latency_s) == (
        first.text,
        first.cost_usd,
        first.latency_s,
    )
    assert not other.cache_hit and other.text != first.text
    assert not hotter.cache_hit and not longer.cache_hit
    assert client.n_cache_hits == 1 and client.n_calls == 5
    # Cache hits cost nothing now: live spend counts the four live calls only.
    live = first.cost_usd + other.cost_usd + hotter.cost_usd + longer.cost_usd
    assert client.spent_usd == pytest.approx(live)

    # A new client (a resumed run) reads the same file.
    second, client2 = run(lambda cl: cl.generate(spec, MESSAGES, sample_index=1), cache_path=path)
    assert second.cache_hit and second.text == other.text and client2.spent_usd == 0


def test_cache_key_includes_simulator_seed(tmp_path: Path):
    path = tmp_path / "cache.sqlite"
    a, _ = run(lambda cl: cl.generate(ModelSpec("sim/small"), MESSAGES), cache_path=path, seed=1)
    b, _ = run(lambda cl: cl.generate(ModelSpec("sim/small"), MESSAGES), cache_path=path, seed=2)
    assert not b.cache_hit and a.text != b.text


def test_failed_calls_are_not_cached(tmp_path: Path, sim_server):
    path = tmp_path / "cache.sqlite"
    failing = ModelSpec(
        "openai/sim-small",
        params={"api_base": sim_server.url, "extra_headers": {"X-Sim-Fault": "500"}},
    )
    c, client = run(
        lambda cl: cl.generate(failing, MESSAGES), cache_path=path, limits=limits(retries=1)
    )
    assert c.status == "server_error" and client.n_errors == 1
    assert len(ResponseCache(path)) == 0


def test_cache_survives_sigkill(tmp_path: Path):
    path = tmp_path / "cache.sqlite"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import tts_bench.sim as sim
        from fakeserver import fake_simulate, fake_price
        sim.simulate, sim.price = fake_simulate, fake_price
        from tts_bench.llm import Client
        from tts_bench.llm.types import ModelSpec
        from tts_bench.suite import Limits

        async def main():
            cl = Client(limits=Limits(), cache_path={str(path)!r})
            for i in range(20):
                await cl.generate(ModelSpec("sim/small"), [{{"role": "user", "content": "q"}}],
                                  sample_index=i)
            os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush

        asyncio.run(main())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert len(ResponseCache(path)) == 20


def test_pricing_override_beats_simulator_price():
    over = {"sim/small": Price(input=10.0, output=20.0)}
    c, _ = run(lambda cl: cl.generate(ModelSpec("sim/small"), MESSAGES), pricing=over)
    assert c.cost_usd == pytest.approx(
        (c.usage.input_tokens * 10 + c.usage.output_tokens * 20) / 1e6
    )


def test_reasoning_tokens_billed_at_output_price():
    c, _ = run(lambda cl: cl.generate(ModelSpec("sim/reasoner"), MESSAGES))
    assert c.usage.reasoning_tokens == 40 and c.usage.output_tokens == 20
    assert c.cost_usd == pytest.approx((c.usage.input_tokens * 2.0 + 60 * 8.0) / 1e6)


def test_reasoning_tokens_over_http_are_split_and_priced(sim_server):
    spec = ModelSpec("openai/sim-reasoner", params={"api_base": sim_server.url})
    over = {"openai/sim-reasoner": Price(input=1.0, output=4.0)}
    c, _ = run(lambda cl: cl.generate(spec, MESSAGES), pricing=over)
    assert (c.usage.output_tokens, c.usage.reasoning_tokens) == (20, 40)
    assert c.cost_usd == pytest.approx((c.usage.input_tokens * 1.0 + 60 * 4.0) / 1e6)


def test_cost_formula_with_cached_input():
    usage = Usage(input_tokens=1000, output_tokens=100, reasoning_tokens=50, cached_tokens=400)
    assert cost_usd(usage, Rate(1.0, 2.0, 0.25)) == pytest.approx((600 + 100 + 300) / 1e6)
    assert cost_usd(usage, Rate(1.0, 2.0)) == pytest.approx((1000 + 300) / 1e6)
    assert cost_usd(usage, None) is None


def test_unknown_price_is_none_and_litellm_map_is_used():
    import litellm

    table = PriceTable()
    assert table.rate("openai/not-a-real-model-xyz") is None
    entry = litellm.model_cost["gpt-4o-mini"]
    rate = table.rate("openai/gpt-4o-mini")
    assert rate is not None
    assert rate.input == pytest.approx(entry["input_cost_per_token"] * 1e6)
    assert rate.output == pytest.approx(entry["output_cost_per_token"] * 1e6)
    assert cost_usd(Usage(input_tokens=10), table.rate("openai/not-a-real-model-xyz")) is None


def test_rate_and_source_name_where_each_price_comes_from():
    table = PriceTable({"acme/x": Price(input=1.0, output=2.0)})
    assert table.rate_and_source("acme/x") == (Rate(1.0, 2.0, None), "suite pricing")
    sim_rate, source = table.rate_and_source("openai/sim-small")
    assert source == "simulator profile" and table.rate_and_source("sim/small")[0] == sim_rate
    assert table.rate_and_source("gpt-4o-mini")[1] == "litellm price map"
    assert table.rate_and_source("openai/not-a-real-model-xyz") == (None, "unknown")
    assert table.rate("openai/sim-small") == sim_rate


def test_missing_api_key_env_is_a_user_error(sim_server):
    os.environ.pop("TTS_BENCH_TEST_MISSING_KEY", None)
    spec = ModelSpec(
        "openai/sim-small",
        api_key_env="TTS_BENCH_TEST_MISSING_KEY",
        params={"api_base": sim_server.url},
    )
    with pytest.raises(UserError, match="TTS_BENCH_TEST_MISSING_KEY"):
        run(lambda cl: cl.generate(spec, MESSAGES))


def test_bad_transport_is_a_user_error():
    spec = ModelSpec("openai/x", params={"api_base": "http://h/v1", "transport": "carrier-pigeon"})
    with pytest.raises(UserError, match="transport"):
        run(lambda cl: cl.generate(spec, MESSAGES))
