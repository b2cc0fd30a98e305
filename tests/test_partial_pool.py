"""A pool with a failed call is not a scored record, and a resume completes it paying only for
the missing calls; record sums do not depend on the order in which parallel calls finish."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from strategies_fake import FakeClient, make_ctx, run

from tests.conftest import demo_suite
from tts_bench import prompts, runner
from tts_bench.data.loader import LoadedItem
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.records import build_record
from tts_bench.scoring import make_scorer
from tts_bench.sim.server import ServerThread
from tts_bench.strategies import resolve
from tts_bench.strategies.base import Context, Failure, Item, reset_clock
from tts_bench.suite import parse

HARD = "4 9 13 2 8 5"
TRUTH = sum(map(int, HARD.split()))
INFRA = ("rate_limited", "timeout", "api_error")


@dataclass
class Flaky(FakeClient):
    """The fake model world, except that the calls named in `fail` ((role, sample_index); a
    plain answering prompt is role "sample") come back failed with `status`."""

    fail: set[tuple[str, int]] = field(default_factory=set)
    status: str = "rate_limited"

    async def generate(
        self, spec: ModelSpec, messages: list[dict[str, str]], *, sample_index: int = 0
    ) -> Completion:
        role = prompts.role_of(messages[-1]["content"]) or "sample"
        if (role, sample_index) in self.fail:
            await asyncio.sleep(0)
            return Completion("", None, Usage(), None, 0.3, status=self.status, model=spec.model)
        return await super().generate(spec, messages, sample_index=sample_index)


def record_of(ctx: Context, res: Any, config: str = "sc") -> dict[str, Any]:
    suite = parse(demo_suite())
    loaded = LoadedItem(id=ctx.item.id, inputs={}, target=TRUTH, strata={}, cluster=None)
    return build_record(
        suite=suite,
        scorer=make_scorer(suite.scorer),
        spec=ctx.model,
        loaded=loaded,
        config=config,
        ctx=ctx,
        res=res,
        latency=ctx.elapsed,
        wall=0.0,
    )


def test_a_failed_sample_fails_the_pool_and_keeps_the_survivors():
    ctx = make_ctx(HARD, client=Flaky(fail={("sample", 2)}))
    res, _ = run(resolve("self_consistency", {"n": 5}, "t"), ctx)
    assert res.status == "rate_limited" and res.answer is None
    assert [s.status for s in res.samples] == ["ok", "ok", "rate_limited", "ok", "ok"]
    assert all(s.answer is not None for s in res.samples if s.status == "ok")
    assert res.info["failed_samples"] == 1
    rec = record_of(ctx, res)
    assert rec["status"] == rec["failure"] == "rate_limited"
    assert rec["correct"] is None and rec["score"] is None and rec["answer"] is None
    assert rec["confidence"] is None and rec["info"]["failed_calls"] == 1
    # the samples that succeeded keep their entries, scored, at their own indices
    assert [s["status"] for s in rec["samples"]] == [s.status for s in res.samples]
    assert all(s["correct"] is not None for s in rec["samples"] if s["status"] == "ok")
    assert rec["n_calls"] == 5


def test_without_failures_the_same_pool_is_scored():
    ctx = make_ctx(HARD, client=Flaky())
    res, _ = run(resolve("self_consistency", {"n": 5}, "t"), ctx)
    rec = record_of(ctx, res)
    assert (
        rec["status"] == "ok" and rec["correct"] is not None and "failed_calls" not in rec["info"]
    )


@pytest.mark.parametrize(
    ("name", "knobs", "fail"),
    [
        ("best_of_n", {"n": 4}, ("judge", 1)),  # a judge call: never pick among the rest
        ("best_of_n", {"n": 4}, ("sample", 3)),
        ("self_consistency", {"n": 4, "weighted": "judge"}, ("judge", 0)),
        ("set_vote", {"n": 4}, ("sample", 0)),
    ],
)
def test_every_pooled_strategy_fails_on_any_failed_call(name, knobs, fail):
    ctx = make_ctx(HARD, client=Flaky(fail={fail}, status="timeout"))
    res, _ = run(resolve(name, knobs, "t"), ctx)
    assert res.status == "timeout" and res.answer is None and len(res.samples) == 4
    assert record_of(ctx, res)["failure"] == "timeout"


def test_adaptive_stops_drawing_after_a_failed_batch():
    ctx = make_ctx(HARD, client=Flaky(fail={("sample", 1)}))
    res, _ = run(resolve("adaptive_consistency", {"n_max": 12, "batch": 3}, "t"), ctx)
    assert res.status == "rate_limited" and res.answer is None
    assert len(ctx.calls) == 3 and res.info["stopped_at"] == 3


def test_sequential_strategies_follow_the_same_rule():
    # a failed critique used to leave the first answer scored as if reflection had run
    ctx = make_ctx(HARD, client=Flaky(fail={("critique", 0)}), temperature=0.0)
    res, _ = run(resolve("reflection", {"rounds": 2}, "t"), ctx)
    rec = record_of(ctx, res)
    assert rec["status"] == "rate_limited" and rec["correct"] is None
    # ... and a search whose expansion failed is not scored on the branches left
    ctx = make_ctx(HARD, client=Flaky(fail={("next_step", 1)}))
    res, _ = run(resolve("beam_search", {"beam_width": 2, "expand": 2, "max_depth": 8}, "t"), ctx)
    assert record_of(ctx, res)["status"] == "rate_limited"


def test_a_fallback_that_answers_is_not_a_failure():
    ctx = make_ctx(HARD, model="fail/primary", fallback=ModelSpec("fake/good", temperature=0.7))
    res, _ = run(resolve("self_consistency", {"n": 3}, "t"), ctx)
    assert ctx.infra_status() is None and res.status == "ok"
    assert record_of(ctx, res)["status"] == "ok"


def test_the_label_of_several_failures_does_not_depend_on_their_order():
    for order in ([3, 1], [1, 3]):
        ctx = make_ctx(HARD)
        for i in order:
            ctx.failures.append(Failure("sample", i, "timeout" if i == 1 else "rate_limited"))
        assert ctx.infra_status() == "timeout"  # the lowest sample index
        ctx.failures.append(Failure("judge", 7, "auth_error"))
        assert ctx.infra_status() == "auth_error"  # a fatal status names the record


# -- deterministic sums --------------------------------------------------------------------

COSTS = [0.1, 0.2, 0.3, 0.00021555, 1e-17, 0.7, 3e-5, 0.05]


@dataclass
class Ordered:
    """Sample i costs COSTS[i] and finishes after delays[i] event-loop turns, so the order in
    which the parallel calls complete (and are logged) is set by the test."""

    delays: list[int]

    async def generate(self, spec: ModelSpec, messages, *, sample_index: int = 0) -> Completion:
        for _ in range(self.delays[sample_index]):
            await asyncio.sleep(0)
        usage = Usage(input_tokens=10 + sample_index, output_tokens=3 * sample_index + 1)
        text = f"Final answer: {TRUTH if sample_index % 3 else TRUTH + 1}"
        return Completion(text, "stop", usage, COSTS[sample_index], 0.25 + sample_index / 7)


def _pool_record(delays: list[int]) -> tuple[dict[str, Any], list[int]]:
    from strategies_fake import Answerer, render

    ctx = Context(
        item=Item(id="i1", inputs={"question": HARD}),
        config="sc",
        model=ModelSpec(model="fake/x", temperature=0.7),
        client=Ordered(delays),
        answerer=Answerer(),
        render=render,
    )

    async def go():
        reset_clock()
        return await resolve("self_consistency", {"n": len(COSTS)}, "t")(ctx)

    res = asyncio.run(go())
    return record_of(ctx, res), [c.sample_index for c in ctx.calls]


def test_record_sums_do_not_depend_on_completion_order():
    import random

    orders, records = set(), []
    for seed in range(6):
        delays = list(range(len(COSTS)))
        random.Random(seed).shuffle(delays)
        rec, order = _pool_record(delays)
        orders.add(tuple(order))
        records.append(rec)
    assert len(orders) > 1  # the calls really finished in different orders
    # (a plain left-to-right sum of these costs does depend on the order)
    assert len({sum(COSTS[i] for i in o) for o in orders}) > 1
    first = records[0]
    for rec in records[1:]:
        for key in ("cost_usd", "input_tokens", "output_tokens", "latency_s", "answer"):
            assert repr(rec[key]) == repr(first[key]), key
        assert rec["samples"] == first["samples"]


# -- against the simulator server: 429s survive (retries 0), then a resume completes --------


def _suite(url: str) -> dict[str, Any]:
    data = demo_suite()
    data["dataset"]["params"] = {"size": 60, "seed": 5}
    data["dataset"]["sample"] = {"size": 12, "by": ["difficulty"], "seed": 1}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": 4, "temperature": 0.7},
        # another temperature: no request of bon is one of sc's, so every request is made
        # once and the server's seeded faults do not depend on which config asked first
        {"name": "bon", "strategy": "best_of_n", "n": 3, "temperature": 0.8},
    ]
    data["defaults"] = {
        "model": "openai/sim-small",
        "api_base": url,
        "api_key_env": "TTS_PARTIAL_POOL_KEY",
        "temperature": 0.0,
        "max_tokens": 512,
        # a failed `n` request fails its whole pool: partial pools need one request per sample
        "pool_request": "separate",
    }
    data["limits"] = {"concurrency": 4, "retries": 0, "timeout_s": 20}
    data["gates"] = []
    return data


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _by_pair(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["item_id"], r["config"]), []).append(r)
    return out


VOLATILE = {"wall_s", "cache_hits", "latency_s"}  # HTTP latency is measured, not simulated


def _stable(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in rec.items() if k not in VOLATILE}
    out["samples"] = [
        {k: v for k, v in s.items() if k != "latency_s"} for s in rec.get("samples") or []
    ]
    return out


def test_partial_pools_against_the_server_then_resume_pays_only_the_missing(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("TTS_PARTIAL_POOL_KEY", "sk-test")
    out = tmp_path / "out"
    with ServerThread(time_scale=0.0, faults={"429": 0.12}, seed=4, retry_after_s=0) as srv:
        suite = parse(_suite(srv.url))
        runner.run(suite, out_dir=out, run_id="r")
        run_dir = out / "r"
        first_records = {(r["item_id"], r["config"]): r for r in _lines(run_dir / "records.jsonl")}
        first_calls = _by_pair(_lines(run_dir / "calls.jsonl"))

        failed_pairs = {
            k for k, calls in first_calls.items() if any(c["status"] != "ok" for c in calls)
        }
        for key, rec in first_records.items():
            if key in failed_pairs:  # one failed call is enough: not scored, never wrong
                assert rec["status"] == rec["failure"] == "rate_limited", key
                assert rec["correct"] is None and rec["score"] is None and rec["answer"] is None
            else:
                assert rec["status"] == "ok" and rec["failure"] not in INFRA, key
        partial = [
            k
            for k in failed_pairs
            if k[1] == "sc" and any(s["status"] == "ok" for s in first_records[k]["samples"])
        ]
        judged_only = [
            k
            for k in failed_pairs
            if k[1] == "bon" and all(s["status"] == "ok" for s in first_records[k]["samples"])
        ]
        assert partial and judged_only, "the seed must give partial pools and failed judges"
        for k in partial:  # survivors keep their entries, at their own sample index
            samples = first_records[k]["samples"]
            assert len(samples) == 4
            assert all(s["answer"] is not None for s in samples if s["status"] == "ok")

        # The endpoint recovers; --resume re-runs the failed records.
        srv.server.config.fault_rates = {}
        seen_before = len(srv.log)
        # Without the preflight's check call, every request the server sees is a pool's.
        result = runner.run(suite, out_dir=out, run_id="r", preflight=False)
        paid = len(srv.log) - seen_before

        # A fault-free reference run of the same suite (fresh cache) on the same endpoint.
        reference = runner.run(suite, out_dir=tmp_path / "ref", run_id="r")

    assert result.status == "complete" and reference.status == "complete"
    records = {(r["item_id"], r["config"]): r for r in _lines(run_dir / "records.jsonl")}
    calls = _by_pair(_lines(run_dir / "calls.jsonl"))
    assert all(r["status"] == "ok" for r in records.values())
    fresh = 0
    for key in failed_pairs:
        before = {(c["role"], c["sample_index"]): c for c in first_calls[key]}
        for c in calls[key]:
            was = before.get((c["role"], c["sample_index"]))
            if was is not None and was["status"] == "ok":
                # replayed from the cache: same index, same text, not paid again
                assert c["cache_hit"] is True and c["text"] == was["text"], (key, c["role"])
            else:  # failed, or never made (the judge of a failed sample): paid now
                assert c["cache_hit"] is False and c["status"] == "ok"
                fresh += 1
        for i, s in enumerate(first_records[key]["samples"] or []):
            if s["status"] == "ok":
                assert records[key]["samples"][i]["answer"] == s["answer"]
    for key in set(records) - failed_pairs:  # finished records were not touched
        assert records[key] == first_records[key]
    assert paid == fresh > 0  # the server saw exactly the missing calls, nothing else
    # and the completed run is the run that never saw a fault
    ref = {(r["item_id"], r["config"]): r for r in _lines(tmp_path / "ref" / "r" / "records.jsonl")}
    assert set(ref) == set(records)
    for key, rec in records.items():
        assert _stable(rec) == _stable(ref[key]), key
