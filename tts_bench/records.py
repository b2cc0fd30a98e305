"""One records.jsonl line from a strategy's result (design.md's record contract)."""

from __future__ import annotations

from typing import Any

from tts_bench.data import LoadedItem
from tts_bench.llm.replicas import served_by
from tts_bench.llm.types import CallRecord, ModelSpec
from tts_bench.scoring import Scorer, label_failure
from tts_bench.store import sample_line
from tts_bench.strategies.base import Context, StrategyResult
from tts_bench.suite import Suite


def build_record(
    *,
    suite: Suite,
    scorer: Scorer,
    spec: ModelSpec,
    loaded: LoadedItem,
    config: str,
    ctx: Context,
    res: StrategyResult,
    latency: float,
    wall: float,
) -> dict[str, Any]:
    """The records.jsonl line of one (item, config): the strategy's result scored against
    the target, its failure label, the pool, and cost, tokens and calls summed from its own
    calls. `latency` is the critical path (the context's clock), `wall` as measured here.

    A record any of whose calls failed for an infrastructure reason (after the client's
    retries and the fallback model) is not scored, whatever the strategy made of the rest:
    status and failure are that call's label, answer, correct and score are null, and the
    samples that did succeed stay in `samples` (a resume replays them from the cache).
    `ttft_s` is the time to the first token on the critical path (`first_token_s`);
    `output_tps` the generation speed of a one-call streamed request (`output_rate`)."""
    status = res.status if res.status != "ok" else (ctx.infra_status() or "ok")
    infra = status != "ok"
    answer = None if infra else res.answer
    confidence = None if infra else res.confidence
    scored = None if infra else scorer.score(answer, loaded.target)
    correct = None if scored is None else scored.correct
    failure = label_failure(
        status=status,
        answer=answer,
        text=res.text,
        finish_reason=res.finish_reason,
        correct=correct,
        confidence=confidence,
        wrong_label=suite.scorer.wrong_label,
    )
    info = {**res.info, **ctx.info}
    if ctx.failures:
        info["failed_calls"] = len(ctx.failures)
    replicas = served_by(ctx.calls)  # api_base as a list: {replica: calls it served}
    if replicas:
        info["replicas"] = replicas
    if res.samples is not None:
        # how the pool was drawn: "n" when a call came from a request of several choices
        info["pool_request"] = "n" if any(c.request_n > 1 for c in ctx.calls) else "separate"
    samples = None
    if res.samples is not None:
        memo: dict[str | None, Any] = {}  # a pool repeats few answers: score each once

        def score_of(s: Any) -> Any:
            if s.status != "ok":
                return None
            if s.answer not in memo:
                memo[s.answer] = scorer.score(s.answer, loaded.target)
            return memo[s.answer]

        samples = [sample_line(s.answer, score_of(s), s) for s in res.samples]
    calls = ctx.calls
    return {
        "item_id": loaded.id,
        "config": config,
        "strategy": suite.config(config).strategy,
        "model": spec.model,
        "strata": loaded.strata,
        "cluster": loaded.cluster,
        "target": scorer.target_text(loaded.target),
        "answer": answer,
        "output": res.text,
        "correct": correct,
        "score": None if scored is None else scored.value,
        "metrics": {} if scored is None else scored.metrics,
        "failure": failure,
        "status": status,
        "cost_usd": ctx.cost_of(calls),
        "latency_s": round(latency, 6),
        "wall_s": round(wall, 6),
        "ttft_s": _round(first_token_s(calls)),
        "output_tps": _round(output_rate(calls)),
        "input_tokens": sum(c.input_tokens for c in calls),
        "output_tokens": sum(c.output_tokens for c in calls),
        "reasoning_tokens": sum(c.reasoning_tokens for c in calls),
        "n_calls": len(calls),
        "cache_hits": sum(1 for c in calls if c.cache_hit),
        "confidence": confidence,
        "simulated": any(c.simulated for c in calls),
        "info": info,
        "samples": samples,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def output_rate(calls: list[CallRecord]) -> float | None:
    """Output tokens per second after the first token (visible and reasoning tokens over
    latency minus time to first token) of a request made of one streamed, successful call.
    None otherwise: several calls overlap or follow each other, so no single speed is theirs."""
    if len(calls) != 1:
        return None
    c = calls[0]
    if c.status != "ok" or c.ttft_s is None or c.latency_s <= c.ttft_s:
        return None
    return (c.output_tokens + c.reasoning_tokens) / (c.latency_s - c.ttft_s)


def first_token_s(calls: list[CallRecord]) -> float | None:
    """Time to first token of a request: when the first token of the critical path arrived,
    on the request's virtual clock. The critical path is walked back from the call that ends
    last, each step to a call that ends where the current one starts (ties: the earliest
    start, then the lowest sample index and role, so completion order never matters); along
    it, the first call that streamed gives its start plus its own time to first token (a
    failed call before it, e.g. a primary the fallback replaced, adds its time).

    One call: its own time to first token. None when no call on the path streamed, or when a
    multi-call request's start times are unknown (`CallRecord.started_s`)."""
    if all(c.ttft_s is None for c in calls):
        return None
    if len(calls) == 1:
        return calls[0].ttft_s
    if any(c.started_s is None for c in calls):
        return None
    eps = 1e-9
    timed = [c for c in calls if c.latency_s > 0]  # a zero-length call moves nothing
    ends = [c.started_s + c.latency_s for c in timed]  # type: ignore[operator]
    path: list[CallRecord] = []
    at = max(ends, default=0.0)
    while at > eps:
        ending = [c for c, end in zip(timed, ends, strict=True) if abs(end - at) <= eps]
        if not ending:
            return None  # the clock moved without a call: no path to walk
        step = min(ending, key=lambda c: (c.started_s, c.sample_index, c.role))
        path.append(step)
        at = step.started_s  # type: ignore[assignment]
    for c in reversed(path):
        if c.ttft_s is not None:
            return c.started_s + c.ttft_s  # type: ignore[operator]
    return None
