"""The real simulator behind the client: in-process and over HTTP (`sim serve`) agree."""

from __future__ import annotations

import asyncio

from tts_bench.llm import Client
from tts_bench.llm.types import ModelSpec
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Limits

MESSAGES = [
    {"role": "system", "content": "You are a careful assistant."},
    {"role": "user", "content": "Tom has 3 apples and buys 4 more. How many apples does he have?"
     "\nEnd with 'Final answer: <number>'."},
]  # fmt: skip


def test_in_process_and_http_give_the_same_samples():
    with ServerThread(time_scale=0.0, seed=11) as srv:

        async def go():
            client = Client(limits=Limits(concurrency=8, timeout_s=10, retries=1), seed=11)
            try:
                local = ModelSpec("sim/small", temperature=0.8)
                remote = ModelSpec(
                    "openai/sim-small", temperature=0.8, params={"api_base": srv.url}
                )
                a = [await client.generate(local, MESSAGES, sample_index=i) for i in range(4)]
                b = [await client.generate(remote, MESSAGES, sample_index=i) for i in range(4)]
                bad = await client.generate(
                    remote.with_(reasoning_effort="extreme"), MESSAGES, sample_index=0
                )
                return a, b, bad
            finally:
                await client.aclose()

        local, remote, bad = asyncio.run(go())
    assert all(c.ok and c.simulated for c in local)
    assert all(c.ok and not c.simulated for c in remote)
    assert [c.text for c in local] == [c.text for c in remote]
    assert [c.usage for c in local] == [c.usage for c in remote]
    assert len({c.text for c in local}) > 1  # sample indices really vary the samples at T>0
    assert all(c.cost_usd and c.cost_usd > 0 for c in local)  # priced from the profile
    assert [c.cost_usd for c in local] == [c.cost_usd for c in remote]
    assert bad.status == "bad_request" and bad.retries == 0  # a bad knob is the caller's error
