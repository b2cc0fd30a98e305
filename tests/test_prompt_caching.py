"""Prompt caching for Anthropic (llm/prompt_cache.py): the suite's shared prefix is marked
with `cache_control`, so the second request of a shared prefix reads it at the cached rate;
a prefix of one item's own turns is never marked; other providers' messages are untouched."""

from __future__ import annotations

import asyncio

import pytest

from tts_bench.llm import Client
from tts_bench.llm.pricing import cost_usd
from tts_bench.llm.prompt_cache import PrefixMarks, speaks_anthropic
from tts_bench.llm.types import ModelSpec
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Limits, Price

SYSTEM = "You are a careful assistant. Show your steps, then the final answer. " * 30
SHOTS = [
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "2 + 3 = 5.\nFinal answer: 5"},
]


def _ask(question: str, shots: bool = False) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM},
        *(SHOTS if shots else []),
        {"role": "user", "content": question},
    ]


def _marks(messages: list[dict]) -> list[int]:
    return [
        i
        for i, m in enumerate(messages)
        if isinstance(m["content"], list) and m["content"][-1].get("cache_control")
    ]


def test_which_prefixes_are_marked():
    marks = PrefixMarks()
    model = "anthropic/claude-3-5-haiku-latest"
    # the system prompt is the suite's: marked from the first request
    assert _marks(marks.mark(model, _ask("What is 4 + 4?"))) == [0]
    # few-shot examples: marked once a second question follows them
    assert _marks(marks.mark(model, _ask("What is 1 + 1?", shots=True))) == [0]
    assert _marks(marks.mark(model, _ask("What is 7 + 1?", shots=True))) == [0, 2]
    assert _marks(marks.mark(model, _ask("What is 1 + 1?", shots=True))) == [0, 2]
    # a reflection's own first answer is one item's: never marked
    own = [*_ask("What is 9 + 9?"), {"role": "assistant", "content": "18"},
           {"role": "user", "content": "Check your answer."}]  # fmt: skip
    assert _marks(marks.mark(model, own)) == [0]
    # the text sent is the text asked
    sent = marks.mark(model, _ask("What is 4 + 4?"))
    assert sent[0]["content"][0]["text"] == SYSTEM and sent[1] == _ask("What is 4 + 4?")[1]
    # other providers: untouched
    plain = _ask("What is 4 + 4?", shots=True)
    for other in ("openai/gpt-4o-mini", "gemini/gemini-2.0-flash", "bedrock/meta.llama3"):
        assert marks.mark(other, plain) is plain
    assert speaks_anthropic("bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0")
    assert speaks_anthropic("vertex_ai/claude-3-5-sonnet@20240620")
    assert not speaks_anthropic("openai/claude-lookalike")


RATE = {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75, "output": 15.0}


def test_second_request_of_a_shared_prefix_is_billed_at_the_cached_rate(monkeypatch, tmp_path):
    """Through litellm's Anthropic module against sim serve's Messages API: the client marks
    the system prompt itself (the suite writes plain messages)."""
    monkeypatch.setenv("TTS_CACHE_KEY", "sk-ant-test-000")
    pricing = {"anthropic/sim-small": Price(**RATE)}

    async def main(base: str):
        limits = Limits(concurrency=1, timeout_s=10.0, retries=0)
        client = Client(limits=limits, pricing=pricing, cache_path=tmp_path / "c.sqlite")
        spec = ModelSpec(
            "anthropic/sim-small",
            api_key_env="TTS_CACHE_KEY",
            params={"api_base": base, "transport": "litellm"},
        )
        try:  # one after the other: the first writes the prefix, the second reads it
            first = await client.generate(spec, _ask("What is 12 + 30?"))
            second = await client.generate(spec, _ask("What is 5 + 8?"))
            replay = client.cached(spec, _ask("What is 5 + 8?"))  # keyed on the plain text
            return first, second, replay
        finally:
            await client.aclose()

    with ServerThread(time_scale=0) as srv:
        first, second, replay = asyncio.run(main(srv.url.removesuffix("/v1")))
    assert first.ok and second.ok, (first.error, second.error)
    written = first.usage.cache_write_tokens
    assert written > 0 and first.usage.cached_tokens == 0
    assert second.usage.cached_tokens == written and second.usage.cache_write_tokens == 0
    fresh = second.usage.input_tokens - second.usage.cached_tokens
    by_hand = (fresh * 3.0 + written * 0.3 + second.usage.output_tokens * 15.0) / 1e6
    assert second.cost_usd == pytest.approx(by_hand, rel=1e-12)
    # what the same request would have cost without the cache: every prompt token at `input`
    uncached = (second.usage.input_tokens * 3.0 + second.usage.output_tokens * 15.0) / 1e6
    assert second.cost_usd < uncached
    assert replay is not None and replay.text == second.text
    assert cost_usd(first.usage, None) is None  # an unknown price stays unknown
