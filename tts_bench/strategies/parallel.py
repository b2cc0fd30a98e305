"""Parallel scaling: several independent samples, aggregated by vote or by a selector."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from tts_bench.scoring import voting
from tts_bench.strategies.base import (
    Context,
    Sample,
    Solve,
    StrategyResult,
    sample_from,
    strategy,
)
from tts_bench.strategies.internal import cot_messages
from tts_bench.strategies.roles import Judge, call_user, load_callable


def pool_size(n: int | list[int]) -> int:
    """`n: [1, 2, 4, 8]` means one pool of max(n) samples; analysis derives the smaller N."""
    sizes = n if isinstance(n, list) else [n]
    if not sizes or any((not isinstance(k, int)) or k < 1 for k in sizes):
        raise ValueError("n must be a positive integer or a list of them")
    return max(sizes)


async def draw_one(ctx: Context, i: int, *, cot: bool = True) -> Sample:
    msgs = cot_messages(ctx) if cot else ctx.messages()
    c = await ctx.generate(msgs, sample_index=i)
    return sample_from(c, ctx.extract(c.text) if c.ok else None)


async def draw_pool(ctx: Context, size: int, *, cot: bool = True, start: int = 0) -> list[Sample]:
    """Draw `size` samples in parallel (sample indices start..start+size-1)."""
    return await ctx.parallel(draw_one(ctx, i, cot=cot) for i in range(start, start + size))


def usable(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.status == "ok" and s.answer is not None]


def pool_failure(ctx: Context, samples: list[Sample]) -> StrategyResult | None:
    """A pool is only voted on when every call it made succeeded. When a sample, a judge or
    a selector call failed (after the client's retries and the fallback model), the result
    is infrastructure-failed with that call's status, so the record is unscored rather than
    a vote of the survivors; the pool is kept, and a resume replays the samples that
    succeeded from the cache and re-draws only the missing ones. None when nothing failed."""
    status = ctx.infra_status()
    if status is None:
        return None
    return StrategyResult(
        answer=None,
        text="",
        finish_reason=None,
        status=status,
        samples=samples,
        info={"failed_samples": sum(1 for s in samples if s.status != "ok")},
    )


def no_answer(samples: list[Sample]) -> StrategyResult:
    """Nothing usable: the infrastructure status if every sample failed, else a model miss
    (strategies check `pool_failure` first, so a partly failed pool never gets here)."""
    failed = [s for s in samples if s.status != "ok"]
    status = failed[0].status if samples and len(failed) == len(samples) else "ok"
    last = samples[-1] if samples else None
    return StrategyResult(
        answer=None,
        text=last.text if last else "",
        finish_reason=last.finish_reason if last else None,
        status=status,
        confidence=0.0,
        samples=samples,
    )


def tally(ctx: Context, samples: list[Sample], weights: list[float] | None = None) -> Counter[str]:
    """Votes per answer identity (ctx.key), so distinct wrong answers stay apart."""
    votes: Counter[str] = Counter()
    for s, w in zip(samples, weights or [1.0] * len(samples), strict=True):
        if s.status == "ok" and s.answer is not None:
            votes[ctx.key(s.answer)] += w
    return votes


def vote(ctx: Context, samples: list[Sample], weights: list[float] | None = None) -> StrategyResult:
    """Majority (or weighted) vote over extracted answers; ties broken at random, as the
    pooled estimators assume. Any failed call → infrastructure-failed (`pool_failure`)."""
    failed = pool_failure(ctx, samples)
    if failed is not None:
        return failed
    answers = [s.answer if s.status == "ok" else None for s in samples]
    won = voting.majority(answers, ctx.key, ctx.rng, weights)
    if won is None:
        return no_answer(samples)
    chosen = samples[won.index]
    return StrategyResult(
        answer=chosen.answer,
        text=chosen.text,
        finish_reason=chosen.finish_reason,
        confidence=won.confidence,
        samples=samples,
        info={"votes": dict(won.votes.most_common(5))},
    )


WEIGHTS = ("none", "judge", "logprob")


@strategy("self_consistency")
def self_consistency(
    n: int | list[int] = 5, cot: bool = True, weighted: str = "none", judge: dict | None = None
) -> Solve:
    """Self-consistency (Wang et al. 2022): sample n reasoning paths, vote on the answers.

    Knobs: `n` — samples, or a list like [1, 2, 4, 8] (one pool of max(n), every smaller N
    derived in analysis); `cot` — sample chain-of-thought paths (default) or plain answers;
    `weighted` — `none` (majority), `judge` (each vote weighted by an LLM judge's score / 10,
    one `judge` call per sample), `logprob` (weight exp(mean token log-prob) when the provider
    returns it, else 1); `judge` — `{model, prompt}` for the judge (see best_of_n).
    Set the config's `temperature` (e.g. 0.7): at T=0 every sample is the same answer.
    """
    size = pool_size(n)
    if weighted not in WEIGHTS:
        raise ValueError(f"weighted must be one of {', '.join(WEIGHTS)}, got {weighted!r}")
    judge_ = Judge.of(judge)

    async def judged(ctx: Context, i: int) -> Sample:
        # Each branch samples then judges its own candidate, so the branches pipeline.
        s = await draw_one(ctx, i, cot=cot)
        if s.status == "ok" and s.answer is not None:
            s.score = await judge_.score(ctx, s.text, i)
        return s

    async def solve(ctx: Context) -> StrategyResult:
        if weighted == "judge":
            samples = await ctx.parallel(judged(ctx, i) for i in range(size))
            weights = [(s.score or 0.0) / 10.0 for s in samples]
        else:
            samples = await draw_pool(ctx, size, cot=cot)
            weights = None
            if weighted == "logprob":
                weights = [1.0 if s.logprob is None else math.exp(s.logprob) for s in samples]
                for s, w in zip(samples, weights, strict=True):
                    s.score = w
        result = vote(ctx, samples, weights)
        result.info["weighted"] = weighted
        return result

    return solve


def programmatic_score(s: Sample) -> float:
    """The built-in `scorer` selector, which never sees the target: mean token log-prob when
    the provider gives it, else well-formedness (an extractable, untruncated answer = 1)."""
    if s.logprob is not None:
        return math.exp(s.logprob)
    return 1.0 if s.answer is not None and s.finish_reason != "length" else 0.0


@strategy("best_of_n")
def best_of_n(
    n: int | list[int] = 4, selector: str = "judge", judge: dict | None = None, cot: bool = True
) -> Solve:
    """Best-of-N (Cobbe et al. 2021; Lightman et al. 2023): draw n candidates in parallel and
    keep the one the selector scores highest (ties at random).

    Knobs: `n` — candidates (a list means one pool of max(n); each sample keeps its `score`
    so analysis can derive best-of-k for every k); `selector` — `judge` (an LLM verifier,
    one `judge` call per candidate, pipelined after its sample), `scorer` (programmatic:
    exp(mean log-prob) if available, else 1 for a well-formed answer), or
    `pkg.module:function` called as `fn(ctx, sample) -> float` (sync or async; calls it
    makes through `ctx.generate` are counted); `judge` — `{model: <name>, prompt: <template
    with {problem} and {candidate}, asking for 'Score: <0-10>'>}`; `cot` — CoT prompt.
    """
    size = pool_size(n)
    judge_ = Judge.of(judge)
    user_fn: Callable[..., Any] | None = None
    if selector not in ("judge", "scorer"):
        user_fn = load_callable(selector, "selector")

    async def candidate(ctx: Context, i: int) -> Sample:
        s = await draw_one(ctx, i, cot=cot)
        if s.status != "ok" or s.answer is None:
            return s  # nothing to judge: no judge call is paid for it
        if selector == "judge":
            s.score = await judge_.score(ctx, s.text, i)
        elif selector == "scorer":
            s.score = programmatic_score(s)
        else:
            s.score = float(await call_user(user_fn, ctx, s))  # type: ignore[arg-type]
        return s

    async def solve(ctx: Context) -> StrategyResult:
        samples = await ctx.parallel(candidate(ctx, i) for i in range(size))
        failed = pool_failure(ctx, samples)  # a failed sample or judge: never pick among the rest
        if failed is not None:
            return failed
        ok = usable(samples)
        if not ok:
            return no_answer(samples)
        best = max(s.score if s.score is not None else -math.inf for s in ok)
        tied = [s for s in ok if (s.score if s.score is not None else -math.inf) == best]
        chosen = tied[0] if len(tied) == 1 else ctx.rng.choice(tied)
        # A confidence in [0, 1] only where the score is one (a user's scale is unknown).
        conf = None
        if chosen.score is not None and selector in ("judge", "scorer"):
            conf = chosen.score / (10.0 if selector == "judge" else 1.0)
        return StrategyResult(
            answer=chosen.answer,
            text=chosen.text,
            finish_reason=chosen.finish_reason,
            confidence=conf,
            samples=samples,
            info={"selector": selector, "chosen_index": samples.index(chosen)},
        )

    return solve
