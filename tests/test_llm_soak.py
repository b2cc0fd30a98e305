# ruff: noqa: F811  (pytest fixtures imported from fakeserver are re-bound as arguments)
"""Client-level soak: 600 calls against the simulator server with 10% each of 429, 500,
timeouts and malformed responses. Every call returns a labelled Completion, retry counts
match what the server saw, and every Retry-After was waited out."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from fakeserver import MESSAGES, fake_sim, limits  # noqa: F401

from tts_bench.llm import Client
from tts_bench.llm.types import CALL_STATUSES, ModelSpec
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Price

pytestmark = pytest.mark.usefixtures("fake_sim")

N_CALLS = 600
RETRY_AFTER = 0.5
FAULTS = {"429": 0.1, "500": 0.1, "slow": 0.1, "malformed": 0.1}
LABEL = {"429": "rate_limited", "500": "server_error", "slow": "timeout", "malformed": "malformed"}


def test_soak_every_call_labelled_and_retry_after_honoured():
    with ServerThread(
        time_scale=0.0, faults=FAULTS, seed=3, retry_after_s=RETRY_AFTER, slow_s=5.0
    ) as srv:
        spec = ModelSpec("openai/sim-small", temperature=0.7, params={"api_base": srv.url})

        async def go():
            # Faults drawn per request are no quota: adaptive concurrency would only queue
            # the stalled calls behind each other (the soak is about labels and waits).
            client = Client(
                limits=limits(concurrency=64, timeout_s=1.0, retries=4, adaptive=False),
                backoff_s=0.02,
                pricing={"openai/sim-small": Price(input=1.0, output=2.0)},
            )
            try:
                out = await asyncio.gather(
                    *(client.generate(spec, MESSAGES, sample_index=i) for i in range(N_CALLS))
                )
                return out, client
            finally:
                await client.aclose()

        out, client = asyncio.run(go())
        log = list(srv.log)

    assert len(out) == N_CALLS
    assert all(c.status in CALL_STATUSES for c in out)
    assert client.n_calls == N_CALLS and client.n_errors == sum(not c.ok for c in out)

    by_index = defaultdict(list)
    for hit in log:
        by_index[hit.sample_index].append(hit)
    assert set(by_index) == set(range(N_CALLS))
    faults = [h.fault for h in log]
    shares = {k: faults.count(k) / len(faults) for k in FAULTS}
    assert all(0.06 <= s <= 0.14 for s in shares.values()), shares  # 10% of requests each

    for i, c in enumerate(out):
        hits = by_index[i]
        assert len(hits) == c.retries + 1  # the client's count is the server's count
        if c.ok:
            assert hits[-1].fault is None and all(h.fault for h in hits[:-1]), (c, hits)
        else:
            assert c.retries == 4 and c.error
            assert c.status == LABEL[hits[-1].fault]
        for before, after in zip(hits, hits[1:], strict=False):
            if before.fault == "429":
                assert after.at - before.at >= RETRY_AFTER * 0.9
        waited = sum(RETRY_AFTER for h in hits[:-1] if h.fault == "429")
        waited += sum(1.0 for h in hits[:-1] if h.fault == "slow")
        assert c.latency_s >= waited * 0.9  # the user waits through every retry
    assert all(c.cost_usd is not None for c in out)
    assert client.spent_usd == pytest.approx(sum(c.cost_usd for c in out))
    assert sum(c.ok for c in out) >= 0.95 * N_CALLS
    assert any(c.retries > 0 and c.ok for c in out)
