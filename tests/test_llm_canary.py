# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""A canary API key in the environment reaches the server but no cache file and no
Completion field, on success and on failure, through both HTTP transports."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from fakeserver import MESSAGES, fake_sim, limits, sim_server  # noqa: F401

from tts_bench.llm import Client
from tts_bench.llm.types import ModelSpec

pytestmark = pytest.mark.usefixtures("fake_sim")


@pytest.mark.parametrize("transport", ["direct", "litellm"])
def test_canary_key_never_written(tmp_path: Path, sim_server, monkeypatch, transport):
    canary = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("TTS_BENCH_CANARY_KEY", canary)
    cache = tmp_path / "cache.sqlite"

    def spec(headers: dict[str, str]) -> ModelSpec:
        return ModelSpec(
            "openai/sim-small",
            api_key_env="TTS_BENCH_CANARY_KEY",
            params={"api_base": sim_server.url, "transport": transport, "extra_headers": headers},
        )

    async def go():
        client = Client(limits=limits(retries=1, timeout_s=0.5), cache_path=cache, backoff_s=0.01)
        try:
            return [
                await client.generate(spec({}), MESSAGES, sample_index=0),
                await client.generate(spec({}), MESSAGES, sample_index=0),  # cache hit
                await client.generate(spec({"X-Sim-Fault": "500"}), MESSAGES, sample_index=1),
                await client.generate(
                    spec({"X-Sim-Fault": "429", "X-Sim-Retry-After": "0"}), MESSAGES, sample_index=2
                ),
                await client.generate(spec({"X-Sim-Fault": "slow"}), MESSAGES, sample_index=3),
            ]
        finally:
            await client.aclose()

    t0 = time.monotonic()
    out = asyncio.run(go())
    assert [c.status for c in out] == ["ok", "ok", "server_error", "rate_limited", "timeout"]
    assert out[1].cache_hit
    # The key was really used (so its absence below means something).
    assert all(h.has_auth for h in sim_server.log if h.at >= t0)
    for completion in out:
        assert canary not in repr(asdict(completion))
    files = list(tmp_path.iterdir())
    assert any(f.name == "cache.sqlite" for f in files)
    for f in files:
        assert canary.encode() not in f.read_bytes(), f.name
