"""A pool in one request (llm/pooling.py): fewer requests, the same answer for every sample
index, exact usage and cost totals, cached choices never re-requested, `separate` one
request per sample, APIs without `n` falling back."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import demo_suite
from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.llm import Client
from tts_bench.llm.backends.base import Reply
from tts_bench.llm.pooling import pool_mode, runs, shares, split_usage
from tts_bench.llm.pricing import PriceTable, cost_usd
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.sim.server import ServerThread
from tts_bench.suite import Limits, parse

N = 6
ITEMS = 10


def _suite(url: str | None, mode: str, n: int = N, **limits: Any) -> dict[str, Any]:
    data = demo_suite()
    data["dataset"]["sample"] = {"size": ITEMS, "by": ["difficulty"], "seed": 3}
    data["baseline"] = "sc"
    data["configs"] = [
        {"name": "sc", "strategy": "self_consistency", "n": n, "temperature": 0.8},
    ]
    data["defaults"] = {"model": "sim/small", "max_tokens": 512, "pool_request": mode}
    if url is not None:
        data["defaults"] |= {"model": "openai/sim-small", "api_base": url}
    data["limits"] = {"concurrency": 8, "retries": 0, "timeout_s": 20, **limits}
    data["gates"] = []
    return data


def _run(tmp: Path, name: str, data: dict[str, Any], cache: bool = False) -> list[dict]:
    out = runner.run(
        parse(data),
        out_dir=tmp,
        run_id=name,
        use_cache=cache,
        cache_path=tmp / "cache.sqlite" if cache else None,
        preflight=False,
    )
    assert out.status == "complete", out.error
    return sorted(out.records, key=lambda r: r["item_id"])


def _calls(tmp: Path, name: str) -> list[dict]:
    lines = (tmp / name / "calls.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _answers(records: list[dict]) -> list[tuple]:
    return [
        (
            r["item_id"],
            r["answer"],
            r["correct"],
            [(s["answer"], s["correct"]) for s in r["samples"]],
        )
        for r in records
    ]


# -- the pieces, against brute force ------------------------------------------------------


def test_runs_cover_every_request_once_in_consecutive_runs():
    rng = random.Random(0)
    for _ in range(300):
        indices = [rng.randrange(12) for _ in range(rng.randrange(1, 20))]
        limit = rng.randrange(1, 6)
        got = runs(indices, limit)
        assert Counter(i for run in got for i in run) == Counter(indices)
        for run in got:
            assert 1 <= len(run) <= limit
            assert run == list(range(run[0], run[0] + len(run)))  # consecutive, distinct
    assert runs([0, 1, 2, 3]) == [[0, 1, 2, 3]]
    assert runs([4, 5, 7]) == [[4, 5], [7]]  # a cached index in between: two requests
    assert runs([0, 1, 0]) == [[0, 1], [0]]  # the same sample asked twice: asked twice


def test_shares_are_the_largest_remainder_split():
    rng = random.Random(1)
    for _ in range(500):
        weights = [rng.randrange(0, 50) for _ in range(rng.randrange(1, 8))]
        total = rng.randrange(0, 400)
        got = shares(total, weights)
        assert sum(got) == total
        w = weights if sum(weights) else [1] * len(weights)
        exact = [Fraction(total * x, sum(w)) for x in w]
        # brute force: every share is the floor or the ceiling of its exact value, and the
        # ones rounded up have the largest remainders
        assert all(math.floor(e) <= g <= math.ceil(e) for g, e in zip(got, exact, strict=True))
        up = [k for k in range(len(w)) if got[k] > math.floor(exact[k])]
        down = [k for k in range(len(w)) if got[k] == math.floor(exact[k]) and exact[k] % 1]
        if up and down:
            assert min(exact[k] % 1 for k in up) >= max(exact[k] % 1 for k in down)


def test_split_usage_counts_the_prompt_once_and_keeps_the_totals():
    whole = Usage(input_tokens=100, output_tokens=30, reasoning_tokens=7, cached_tokens=64)
    done = [Completion(t, "stop", whole, 1.0, 0.5) for t in ("a" * 10, "b" * 20, "")]
    got = split_usage(done, per_choice=False)
    assert [u.input_tokens for u in got] == [100, 0, 0]
    assert [u.cached_tokens for u in got] == [64, 0, 0]
    assert sum(u.output_tokens for u in got) == 30 and got[1].output_tokens == 20
    assert sum(u.reasoning_tokens for u in got) == 7
    own = [Completion("x", "stop", Usage(100, k, 0), 1.0, 0.5) for k in (5, 9)]
    assert [(u.input_tokens, u.output_tokens) for u in split_usage(own, per_choice=True)] == [
        (100, 5),
        (0, 9),
    ]


def test_modes_per_transport():
    auto = {"pool_request": "auto"}  # a suite's default; a spec built by hand: separate
    assert pool_mode(ModelSpec("sim/small"), "sim") == "separate"
    assert pool_mode(ModelSpec("sim/small", **auto), "sim") == "n"
    assert pool_mode(ModelSpec("openai/qwen", params={"api_base": "http://x/v1"}, **auto)) == "n"
    assert pool_mode(ModelSpec("openai/gpt-4o-mini", **auto), "litellm") == "n"
    assert pool_mode(ModelSpec("groq/llama", **auto), "litellm") == "separate"  # not assumed
    assert pool_mode(ModelSpec("groq/llama", pool_request="n"), "litellm") == "n"
    assert pool_mode(ModelSpec("sim/small", pool_request="separate"), "sim") == "separate"
    # a batch-mode call goes in a provider batch, one entry per sample
    assert pool_mode(ModelSpec("openai/x", pool_request="n", batch=True), "direct") == "separate"
    for model in ("anthropic/claude-3-5-haiku-latest", "gemini/gemini-2.0-flash"):
        assert pool_mode(ModelSpec(model, pool_request="n"), "litellm") == "separate"


# -- against `sim serve` ----------------------------------------------------------------------


def test_one_request_per_pool_same_answers_exact_totals(tmp_path: Path):
    with ServerThread(time_scale=0.0) as srv:
        separate = _run(tmp_path, "separate", _suite(srv.url, "separate"))
        sent_separate = list(srv.log)
        pooled = _run(tmp_path, "n", _suite(srv.url, "auto"))
        sent_pooled = srv.log[len(sent_separate) :]
    # `separate`: one request per sample, every index once per item
    assert len(sent_separate) == ITEMS * N
    assert Counter(h.sample_index for h in sent_separate) == dict.fromkeys(range(N), ITEMS)
    # `n`: one request per pool, starting at sample index 0
    assert len(sent_pooled) == ITEMS and {h.sample_index for h in sent_pooled} == {0}
    # the same answer and correctness for every sample index, hence the same accuracy
    assert _answers(pooled) == _answers(separate)
    # completion tokens are the same in total; the prompt is paid once per request
    for a, b in zip(separate, pooled, strict=True):
        assert a["output_tokens"] == b["output_tokens"]
        assert a["input_tokens"] == N * b["input_tokens"]
        assert b["info"]["pool_request"] == "n" and a["info"]["pool_request"] == "separate"
    # cost: the records' totals are the invoice of the requests' token totals
    rate = PriceTable().rate("openai/sim-small")
    for name, records in (("separate", separate), ("n", pooled)):
        calls = _calls(tmp_path, name)
        total = Usage(
            input_tokens=sum(c["input_tokens"] for c in calls),
            output_tokens=sum(c["output_tokens"] for c in calls),
        )
        assert math.isclose(
            sum(r["cost_usd"] for r in records), cost_usd(total, rate), rel_tol=1e-12
        )
    by_request: dict[str, list[dict]] = {}
    for c in _calls(tmp_path, "n"):
        assert c["request_n"] == N
        by_request.setdefault(c["request_id"], []).append(c)
    assert len(by_request) == ITEMS
    for choices in by_request.values():
        first = min(choices, key=lambda c: c["sample_index"])
        assert first["input_tokens"] > 0
        assert all(c["input_tokens"] == 0 for c in choices if c is not first)
        assert len({c["latency_s"] for c in choices}) == 1  # one response: one latency
    assert sum(r["cost_usd"] for r in pooled) < sum(r["cost_usd"] for r in separate)


def test_resume_asks_only_for_the_missing_choices(tmp_path: Path):
    with ServerThread(time_scale=0.0) as srv:
        _run(tmp_path, "four", _suite(srv.url, "n", n=4), cache=True)
        assert len(srv.log) == ITEMS
        before = len(srv.log)
        six = _run(tmp_path, "six", _suite(srv.url, "n", n=6), cache=True)
        missing = srv.log[before:]
        # samples 0-3 replayed from the cache; 4 and 5 drawn as one request of two
        assert len(missing) == ITEMS and {h.sample_index for h in missing} == {4}
        assert all(r["cache_hits"] == 4 for r in six)
        before = len(srv.log)
        again = _run(tmp_path, "again", _suite(srv.url, "n", n=6), cache=True)
        assert len(srv.log) == before  # everything cached: nothing sent
        assert _answers(again) == _answers(six)
    # and the pool is the one a separate run draws
    with ServerThread(time_scale=0.0) as srv:
        assert _answers(_run(tmp_path, "sep", _suite(srv.url, "separate"))) == _answers(six)


def test_a_failed_request_fails_all_its_choices(tmp_path: Path):
    data = _suite(None, "n")
    with ServerThread(time_scale=0.0) as srv:
        data["defaults"] |= {
            "model": "openai/sim-small",
            "api_base": srv.url,
            "extra_headers": {"X-Sim-Fault": "500"},
        }
        out = runner.run(
            parse(data), out_dir=tmp_path, run_id="f", use_cache=False, preflight=False
        )
        assert len(srv.log) == ITEMS
    assert all(r["status"] == "server_error" and r["correct"] is None for r in out.records)
    calls = _calls(tmp_path, "f")
    assert len(calls) == ITEMS * N and all(c["status"] == "server_error" for c in calls)
    assert all(c["cost_usd"] == 0 and c["input_tokens"] == 0 for c in calls)


# -- in process -------------------------------------------------------------------------------


def test_in_process_simulator_pools_with_the_same_samples(tmp_path: Path):
    separate = _run(tmp_path, "separate", _suite(None, "separate"))
    pooled = _run(tmp_path, "n", _suite(None, "auto"))
    assert _answers(pooled) == _answers(separate)
    for a, b in zip(separate, pooled, strict=True):
        # each choice keeps its own completion tokens; the request takes the slowest choice
        assert [s["output_tokens"] for s in a["samples"]] == [
            s["output_tokens"] for s in b["samples"]
        ]
        slowest = max(s["latency_s"] for s in a["samples"])
        assert {s["latency_s"] for s in b["samples"]} == {slowest}
        assert b["input_tokens"] * N == a["input_tokens"]


class _Recorder:
    """A litellm stand-in that records the `n` of every request."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def prepare(self) -> None:
        return None

    async def call(self, spec, messages, *, sample_index, n, timeout_s, api_key):
        self.sent.append((sample_index, n))
        usage = Usage(input_tokens=50, output_tokens=4 * n)
        return [Reply(text=f"Final answer: {sample_index + i}", finish_reason="stop", usage=usage)
                for i in range(n)]  # fmt: skip

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("model", "mode", "sent"),
    [
        ("anthropic/claude-3-5-haiku-latest", "auto", [(i, 1) for i in range(4)]),
        ("anthropic/claude-3-5-haiku-latest", "n", [(i, 1) for i in range(4)]),
        ("openai/gpt-4o-mini", "auto", [(0, 4)]),
        ("openai/gpt-4o-mini", "separate", [(i, 1) for i in range(4)]),
    ],
)
def test_apis_without_n_fall_back_to_one_request_per_sample(model, mode, sent):
    async def go() -> tuple[list[Completion], _Recorder]:
        client = Client(limits=Limits(concurrency=8, retries=0), pricing={})
        fake = _Recorder()
        client._backends["litellm"] = fake
        spec = ModelSpec(model, pool_request=mode)
        msgs = [{"role": "user", "content": "2 + 2?"}]
        try:
            done = await asyncio.gather(
                *(client.generate(spec, msgs, sample_index=i) for i in range(4))
            )
        finally:
            await client.aclose()
        return list(done), fake

    done, fake = asyncio.run(go())
    assert sorted(fake.sent) == sent
    assert [c.text for c in done] == [f"Final answer: {i}" for i in range(4)]
    # prompt once per request, completion tokens split back to each choice
    assert sum(c.usage.input_tokens for c in done) == 50 * len(sent)
    assert sum(c.usage.output_tokens for c in done) == 16


def test_a_configuration_error_reaches_every_caller_of_the_request(monkeypatch):
    monkeypatch.delenv("TTS_POOL_MISSING_KEY", raising=False)
    spec = ModelSpec("openai/qwen", api_key_env="TTS_POOL_MISSING_KEY", pool_request="n",
                     params={"api_base": "http://127.0.0.1:9/v1"})  # fmt: skip

    async def go() -> list[BaseException | Completion]:
        client = Client(limits=Limits(concurrency=4, retries=0), pricing={})
        msgs = [{"role": "user", "content": "2 + 2?"}]
        try:
            return await asyncio.wait_for(
                asyncio.gather(
                    *(client.generate(spec, msgs, sample_index=i) for i in range(3)),
                    return_exceptions=True,
                ),
                timeout=30,
            )
        finally:
            await client.aclose()

    got = asyncio.run(go())
    assert len(got) == 3 and all(isinstance(e, UserError) for e in got)


# -- the report: the other way's cost, from the recorded usage and prices -----------------


def test_other_mode_cost_is_what_the_other_run_cost(tmp_path: Path):
    from tts_bench.analysis.poolcost import pool_costs
    from tts_bench.report.verdict import pool_clause
    from tts_bench.store import read_manifest

    separate = _run(tmp_path, "separate", _suite(None, "separate"))
    pooled = _run(tmp_path, "n", _suite(None, "auto"))
    got_sep = pool_costs(separate, read_manifest(tmp_path / "separate"))["sc"]
    got_n = pool_costs(pooled, read_manifest(tmp_path / "n"))["sc"]
    paid_sep = math.fsum(r["cost_usd"] for r in separate)
    paid_n = math.fsum(r["cost_usd"] for r in pooled)
    assert got_sep["pool_request"] == "separate" and got_n["pool_request"] == "n"
    assert got_sep["cost_usd"] == pytest.approx(paid_sep, rel=1e-12)
    # each run's "other way" is exactly what the other run paid
    assert got_sep["other_cost_usd"] == pytest.approx(paid_n, rel=1e-9)
    assert got_n["other_cost_usd"] == pytest.approx(paid_sep, rel=1e-9)
    assert "one request per sample would cost" in pool_clause(got_n)
    # an unknown price stays unknown; an API without `n` has no other way
    assert pool_costs(pooled, {"suite": {"sim_profiles": {}}})["sc"]["other_cost_usd"] is not None
    claude = [{**r, "model": "anthropic/claude-x"} for r in separate]
    blocked = pool_costs(claude, {})["sc"]
    assert blocked["other_mode"] is None and "has no n" in pool_clause(blocked)
    batched = [{**r, "info": {**r["info"], "batch": True}} for r in separate]
    assert pool_costs(batched, {}) == {}  # priced at batch rates: not compared here
    unpriced = pool_costs([{**r, "model": "openai/no-such-model"} for r in separate], {})["sc"]
    assert unpriced["other_cost_usd"] is None and "unknown" in pool_clause(unpriced)


def test_a_server_that_ignores_n_gets_the_rest_one_by_one():
    """A server answering one choice to an `n` request: that choice is kept, the missing
    indices are drawn one request each, and the endpoint is never asked for `n` again."""
    from tts_bench.llm.pooling import Pooler

    sent: list[tuple[int, int]] = []

    async def send(kind: str, spec: ModelSpec, messages: Any, first: int, n: int) -> list:
        sent.append((first, n))
        return [Completion(text=f"s{first}", finish_reason="stop", usage=Usage(10, 2),
                           cost_usd=0.0, latency_s=0.1, model=spec.model)]  # fmt: skip

    async def go() -> list[list[str]]:
        pooler = Pooler(send, lambda spec, usage: 0.0)
        spec = ModelSpec("openai/x", pool_request="n", params={"api_base": "http://h/v1"})
        msgs = [{"role": "user", "content": "q"}]
        texts = []
        for _ in range(2):
            got = await asyncio.gather(*(pooler.join("direct", spec, msgs, i) for i in range(4)))
            texts.append([c.text for c in got])
        return texts

    texts = asyncio.run(go())
    assert texts == [["s0", "s1", "s2", "s3"]] * 2
    assert sent[0] == (0, 4)  # asked once for n
    assert sorted(sent[1:4]) == [(1, 1), (2, 1), (3, 1)]
    assert sorted(sent[4:]) == [(0, 1), (1, 1), (2, 1), (3, 1)]  # never n again
