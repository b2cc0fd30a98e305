"""Per-element voting over set answers: keep each element that enough samples contain.

Whole-answer voting (self_consistency) treats {3, 7} and {3, 7, 12} as two different answers,
so a subtle element that only some samples catch is lost with the minority. Voting per element
keeps every element that at least `min_votes` (or a share `min_share`) of the samples flag,
which is how a review with several readers cuts misses. The rules themselves (an answer's
elements, the votes an element needs, the kept set's canonical form) are
`tts_bench.scoring.voting`'s, shared with the analysis' replay.
"""

from __future__ import annotations

from collections import Counter

from tts_bench.scoring.voting import canonical_answer, elements, threshold
from tts_bench.strategies.base import Context, Sample, Solve, StrategyResult, strategy
from tts_bench.strategies.parallel import draw_pool, no_answer, pool_failure, pool_size, usable


def vote_elements(
    ctx: Context, samples: list[Sample], min_votes: int | None, min_share: float
) -> StrategyResult:
    """Keep the elements contained in at least `threshold` usable samples. Confidence is the
    share of usable samples whose whole set equals the voted set. A pool with a failed call
    is not voted on (`pool_failure`)."""
    failed = pool_failure(ctx, samples)
    if failed is not None:
        return failed
    ok = usable(samples)
    if not ok:
        return no_answer(samples)
    need = threshold(len(ok), min_votes, min_share)
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    per_sample: list[frozenset[str]] = []
    for s in ok:
        els = elements(s.answer, ctx.key)  # type: ignore[arg-type]
        per_sample.append(frozenset(els))
        counts.update(els.keys())
        for k, v in els.items():
            shown.setdefault(k, v)
    kept_keys = frozenset(k for k, c in counts.items() if c >= need)
    answer = canonical_answer([v for k, v in shown.items() if k in kept_keys], ctx.extract)
    agree = sum(1 for els in per_sample if els == kept_keys) / len(ok)
    votes = {shown[k]: c for k, c in counts.most_common()}
    return StrategyResult(
        answer=answer,
        text=f"Per-element vote of {len(ok)} samples (kept at >= {need}): {votes}\n"
        f"Final answer: {answer if answer else 'none'}",
        finish_reason="stop",
        confidence=agree,
        samples=samples,
        info={"min_votes": need, "usable": len(ok), "element_votes": votes},
    )


@strategy("set_vote")
def set_vote(
    n: int | list[int] = 5,
    min_votes: int | None = None,
    min_share: float = 0.3,
    cot: bool = True,
) -> Solve:
    """Per-element set voting: n parallel samples, each answer read as a set (the scorer's
    `set` extraction), and an element kept when enough samples contain it.

    Knobs: `n` — samples, or a list like [1, 3, 5, 9] (one pool of max(n), kept in the
    record); `min_votes` — samples an element needs (overrides `min_share`); `min_share` —
    else the share of usable samples it needs, rounded up (0.3: 3 of 9, 1 of 1);
    `cot` — sample chain-of-thought reviews (default) or plain answers. Set a `temperature`
    (e.g. 0.7): at T=0 every sample is the same set.
    """
    size = pool_size(n)
    if min_votes is not None and (isinstance(min_votes, bool) or min_votes < 1):
        raise ValueError("min_votes must be a positive integer")
    if not 0 < min_share <= 1:
        raise ValueError("min_share must be in (0, 1]")

    async def solve(ctx: Context) -> StrategyResult:
        samples = await draw_pool(ctx, size, cot=cot)
        return vote_elements(ctx, samples, min_votes, min_share)

    return solve
