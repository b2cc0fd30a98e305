"""Costs as the invoice computes them: cache reads at the cache rate, Anthropic cache writes at
their rate, reasoning at the reasoning (else output) rate; the documented price table is the
one tts-bench uses; a recorded call's cost is recomputable from its tokens."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tts_bench.llm import Client
from tts_bench.llm.backends.base import usage_from_openai
from tts_bench.llm.pricing import PriceTable, Rate, cost_usd, table_row
from tts_bench.llm.types import CallRecord, ModelSpec, Usage
from tts_bench.suite import Limits, Price

DOCS = Path(__file__).resolve().parents[1] / "docs" / "providers.md"
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


def documented_rates() -> dict[str, dict[str, float | None]]:
    """The `## Prices` table of docs/providers.md: {model: {column: $/Mtok or None}}."""
    text = DOCS.read_text()
    section = text.split("## Prices", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `([^`]+)` \|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        names = ("input", "cached_input", "cache_write", "output", "reasoning")
        rows[m.group(1)] = {
            n: None if c == "—" else float(c) for n, c in zip(names, cells[:5], strict=True)
        }
        rows[m.group(1)]["source"] = cells[5]  # type: ignore[assignment]
    return rows


def by_hand(r: dict, inp: int, cached: int, written: int, out: int, reasoning: int) -> float:
    """The invoice's arithmetic, written out from the documented rates and fallbacks."""
    cached_rate = r["input"] if r["cached_input"] is None else r["cached_input"]
    write_rate = r["input"] if r["cache_write"] is None else r["cache_write"]
    reasoning_rate = r["output"] if r["reasoning"] is None else r["reasoning"]
    return (
        (inp - cached - written) * r["input"]
        + cached * cached_rate
        + written * write_rate
        + out * r["output"]
        + reasoning * reasoning_rate
    ) / 1e6


def test_docs_table_is_what_tts_bench_uses():
    rows = documented_rates()
    assert len(rows) >= 8
    lines = [ln for ln in DOCS.read_text().splitlines() if ln.startswith("| `")]
    prices = PriceTable()
    for model in rows:
        documented = next(ln for ln in lines if ln.startswith(f"| `{model}` |"))
        assert documented == table_row(model, prices), model
    assert {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"} <= set(rows)


def test_cost_from_tokens_matches_documented_rates():
    prices = PriceTable()
    for model, r in documented_rates().items():
        usage = Usage(
            input_tokens=10_000,
            output_tokens=700,
            reasoning_tokens=300,
            cached_tokens=6_000,
            cache_write_tokens=2_000,
        )
        got = cost_usd(usage, prices.rate(model))
        assert got == pytest.approx(by_hand(r, 10_000, 6_000, 2_000, 700, 300), rel=1e-12), model


def test_invoice_arithmetic_for_claude_sonnet():
    rate = PriceTable().rate("anthropic/claude-sonnet-4-5")
    usage = Usage(
        input_tokens=1000, output_tokens=50, reasoning_tokens=20, cached_tokens=600,
        cache_write_tokens=300,
    )  # fmt: skip
    # 100 fresh x $3 + 600 read x $0.30 + 300 written x $3.75 + 70 out x $15 per Mtok
    assert cost_usd(usage, rate) == pytest.approx(0.002655, rel=1e-12)


def test_fallbacks_and_separate_reasoning_rate():
    usage = Usage(input_tokens=100, output_tokens=10, reasoning_tokens=5, cached_tokens=40)
    flat = Rate(input=1.0, output=2.0)  # no cache or reasoning rate: input and output rates
    assert cost_usd(usage, flat) == pytest.approx((100 * 1.0 + 15 * 2.0) / 1e6)
    full = Rate(input=1.0, output=2.0, cached_input=0.1, cache_write=1.25, reasoning=8.0)
    assert cost_usd(usage, full) == pytest.approx((60 + 40 * 0.1 + 10 * 2 + 5 * 8) / 1e6)
    # qwen-turbo's thinking tokens cost more than its answer tokens in litellm's map
    qwen = PriceTable().rate("dashscope/qwen-turbo")
    assert qwen is not None and qwen.reasoning is not None and qwen.reasoning > qwen.output
    # reported counts beyond the prompt are clipped, never billed twice
    odd = Usage(input_tokens=10, cached_tokens=8, cache_write_tokens=8)
    assert cost_usd(odd, full) == pytest.approx((8 * 0.1 + 2 * 1.25) / 1e6)
    assert cost_usd(usage, None) is None


def test_suite_pricing_carries_every_rate():
    price = Price(input=2.0, output=6.0, cached_input=0.5, cache_write=2.5, reasoning=9.0)
    for override in (price, price.model_dump()):
        rate, source = PriceTable({"openai/m": override}).rate_and_source("openai/m")
        assert source == "suite pricing"
        assert rate == Rate(2.0, 6.0, 0.5, 2.5, 9.0)


def test_litellm_anthropic_usage_maps_cache_reads_and_writes():
    from litellm.types.utils import PromptTokensDetailsWrapper
    from litellm.types.utils import Usage as LiteUsage

    # litellm folds Anthropic's cache tokens into prompt_tokens (100 + 600 + 300)
    raw = LiteUsage(
        prompt_tokens=1000,
        completion_tokens=50,
        total_tokens=1050,
        prompt_tokens_details=PromptTokensDetailsWrapper(
            cached_tokens=600, cache_creation_tokens=300
        ),
        cache_creation_input_tokens=300,
        cache_read_input_tokens=600,
    ).model_dump()
    usage, known = usage_from_openai(raw)
    assert known
    assert (usage.input_tokens, usage.cached_tokens, usage.cache_write_tokens) == (1000, 600, 300)


# ---- over HTTP: a provider-shaped stub, litellm's real providers and the direct transport


OPENAI_USAGE = {
    "prompt_tokens": 2000,
    "completion_tokens": 300,
    "total_tokens": 2300,
    "prompt_tokens_details": {"cached_tokens": 1536},
    "completion_tokens_details": {"reasoning_tokens": 200},
}
ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "cache_read_input_tokens": 1200,
    "cache_creation_input_tokens": 700,
    "output_tokens": 40,
}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.endswith("/messages"):
            body = {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Final answer: 4"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": ANTHROPIC_USAGE,
            }
        else:
            body = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Final answer: 4"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": OPENAI_USAGE,
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _call(spec: ModelSpec, pricing: dict | None = None):
    async def main():
        limits = Limits(concurrency=2, timeout_s=5.0, retries=0, max_retry_wait_s=1.0)
        client = Client(limits=limits, pricing=pricing, backoff_s=0.01)
        try:
            return await client.generate(spec, MESSAGES, sample_index=0)
        finally:
            await client.aclose()

    return asyncio.run(main())


def _record(c) -> dict:
    rec = CallRecord.from_completion(c, item_id="q1", config="c", role="sample", sample_index=0)
    return json.loads(json.dumps(rec.__dict__))  # as calls.jsonl keeps it


@pytest.mark.parametrize("transport", ["direct", "litellm"])
def test_openai_record_cost_recomputes_with_suite_cached_rate(stub, transport):
    pricing = {"openai/gpt-4o-mini": Price(input=0.15, output=0.6, cached_input=0.075)}
    spec = ModelSpec(
        "openai/gpt-4o-mini", params={"api_base": stub + "/v1", "transport": transport}
    )
    c = _call(spec, pricing)
    assert c.status == "ok", c.error
    rec = _record(c)
    assert (rec["input_tokens"], rec["cached_tokens"], rec["cache_write_tokens"]) == (2000, 1536, 0)
    assert (rec["output_tokens"], rec["reasoning_tokens"]) == (100, 200)
    rates = {"input": 0.15, "cached_input": 0.075, "cache_write": None, "output": 0.6}
    expected = by_hand(
        {**rates, "reasoning": None},
        rec["input_tokens"],
        rec["cached_tokens"],
        rec["cache_write_tokens"],
        rec["output_tokens"],
        rec["reasoning_tokens"],
    )
    assert rec["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert rec["cost_usd"] == pytest.approx((464 * 0.15 + 1536 * 0.075 + 300 * 0.6) / 1e6)


def test_anthropic_record_cost_recomputes_from_litellm_map(stub, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    spec = ModelSpec(
        "anthropic/claude-sonnet-4-5",
        api_key_env="ANTHROPIC_API_KEY",
        params={"api_base": stub, "transport": "litellm"},
    )
    c = _call(spec)
    assert c.status == "ok", c.error
    rec = _record(c)
    assert (rec["input_tokens"], rec["cached_tokens"], rec["cache_write_tokens"]) == (
        2000,
        1200,
        700,
    )
    r = documented_rates()["anthropic/claude-sonnet-4-5"]
    expected = by_hand(
        r,
        rec["input_tokens"],
        rec["cached_tokens"],
        rec["cache_write_tokens"],
        rec["output_tokens"],
        rec["reasoning_tokens"],
    )
    assert rec["cost_usd"] == pytest.approx(expected, rel=1e-12)
    # 100 fresh x $3 + 1200 read x $0.30 + 700 written x $3.75 + 40 out x $15 per Mtok
    assert rec["cost_usd"] == pytest.approx((300 + 360 + 2625 + 600) / 1e6)


def test_price_rows_prints_the_documented_row(capsys):
    from tts_bench.llm.price_rows import main

    main(["anthropic/claude-haiku-4-5", "openai/no-such-model-anywhere"])
    printed = capsys.readouterr().out.splitlines()
    documented = [
        ln for ln in DOCS.read_text().splitlines() if "`anthropic/claude-haiku-4-5`" in ln
    ]
    assert printed[0] in documented
    assert printed[1].endswith("| unknown |")


def test_sim_serve_anthropic_cache_write_then_read_recomputes(monkeypatch):
    from tts_bench.sim.server import ServerThread

    monkeypatch.setenv("TTS_PRICE_KEY", "sk-ant-test-000")
    prefix = "You grade arithmetic. " * 40
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": prefix, "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    r = {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75, "output": 15.0, "reasoning": None}
    pricing = {"anthropic/sim-small": Price(**{k: v for k, v in r.items() if v is not None})}

    async def main(base: str):
        limits = Limits(concurrency=1, timeout_s=10.0, retries=0, max_retry_wait_s=1.0)
        client = Client(limits=limits, pricing=pricing, backoff_s=0.01)
        spec = ModelSpec(
            "anthropic/sim-small",
            api_key_env="TTS_PRICE_KEY",
            params={"api_base": base, "transport": "litellm"},
        )
        try:  # one after the other: the first writes the prefix, the second reads it
            return [await client.generate(spec, messages, sample_index=i) for i in (0, 1)]
        finally:
            await client.aclose()

    with ServerThread(time_scale=0) as srv:
        first, second = asyncio.run(main(srv.url.removesuffix("/v1")))
    assert first.status == "ok" and second.status == "ok", (first.error, second.error)
    records = [_record(first), _record(second)]
    assert records[0]["cache_write_tokens"] > 0 and records[0]["cached_tokens"] == 0
    assert records[1]["cached_tokens"] == records[0]["cache_write_tokens"]
    assert records[1]["cache_write_tokens"] == 0
    for rec in records:
        expected = by_hand(
            r,
            rec["input_tokens"],
            rec["cached_tokens"],
            rec["cache_write_tokens"],
            rec["output_tokens"],
            rec["reasoning_tokens"],
        )
        assert rec["cost_usd"] == pytest.approx(expected, rel=1e-12)
    # the same prompt costs less once its prefix is read from the cache
    assert records[1]["cost_usd"] < records[0]["cost_usd"]
    # without suite pricing, `anthropic/sim-*` is priced from the simulator profile
    _, source = PriceTable().rate_and_source("anthropic/sim-small")
    assert source == "simulator profile"
