"""Parallel scaling: several independent samples, aggregated."""

from __future__ import annotations

from collections import Counter

from tts_bench.strategies.base import (
    Context,
    Sample,
    Solve,
    StrategyResult,
    sample_from,
    strategy,
)
from tts_bench.strategies.internal import cot_messages


def pool_size(n: int | list[int]) -> int:
    """`n: [1, 2, 4, 8]` means one pool of max(n) samples; analysis derives the smaller N."""
    sizes = n if isinstance(n, list) else [n]
    if not sizes or any((not isinstance(k, int)) or k < 1 for k in sizes):
        raise ValueError("n must be a positive integer or a list of them")
    return max(sizes)


async def draw_pool(ctx: Context, size: int, *, cot: bool = True, start: int = 0) -> list[Sample]:
    """Draw `size` samples in parallel (sample indices start..start+size-1)."""
    msgs = cot_messages(ctx) if cot else ctx.messages()

    async def one(i: int) -> Sample:
        c = await ctx.generate(msgs, sample_index=i)
        return sample_from(c, ctx.extract(c.text) if c.ok else None)

    return await ctx.parallel(one(i) for i in range(start, start + size))


def vote(ctx: Context, samples: list[Sample], weights: list[float] | None = None) -> StrategyResult:
    """Majority (or weighted) vote over extracted answers; ties broken at random, as the
    pooled estimators assume. All samples failed for infrastructure → that status."""
    usable = [(s, w) for s, w in zip(samples, weights or [1.0] * len(samples), strict=True)
              if s.status == "ok" and s.answer is not None]
    if not usable:
        failed = [s for s in samples if s.status != "ok"]
        status = failed[0].status if len(failed) == len(samples) else "ok"
        last = samples[-1] if samples else None
        return StrategyResult(
            answer=None,
            text=last.text if last else "",
            finish_reason=last.finish_reason if last else None,
            status=status,
            confidence=0.0,
            samples=samples,
        )
    tally: Counter[str] = Counter()
    first: dict[str, Sample] = {}
    for s, w in usable:
        k = ctx.key(s.answer)  # type: ignore[arg-type]
        tally[k] += w
        first.setdefault(k, s)
    top = max(tally.values())
    tied = sorted(k for k, v in tally.items() if v == top)
    winner = tied[0] if len(tied) == 1 else ctx.rng.choice(tied)
    chosen = first[winner]
    return StrategyResult(
        answer=chosen.answer,
        text=chosen.text,
        finish_reason=chosen.finish_reason,
        confidence=tally[winner] / sum(tally.values()),
        samples=samples,
        info={"votes": dict(tally.most_common(5))},
    )


@strategy("self_consistency")
def self_consistency(n: int | list[int] = 5, cot: bool = True) -> Solve:
    """Self-consistency (Wang et al. 2022): sample n reasoning paths, majority-vote the answers.

    Knobs: `n` — samples, or a list like [1, 2, 4, 8] (one pool of max(n), every smaller N
    derived in analysis); `cot` — sample chain-of-thought paths (default) or plain answers.
    Set the config's `temperature` (e.g. 0.7): at T=0 every sample is the same answer.
    """
    size = pool_size(n)

    async def solve(ctx: Context) -> StrategyResult:
        return vote(ctx, await draw_pool(ctx, size, cot=cot))

    return solve
