"""Per-element voting over set answers: keep each element that enough samples contain.

Whole-answer voting (self_consistency) treats {3, 7} and {3, 7, 12} as two different answers,
so a subtle element that only some samples catch is lost with the minority. Voting per element
keeps every element that at least `min_votes` (or a share `min_share`) of the samples flag,
which is how a review with several readers cuts misses.
"""

from __future__ import annotations

import json
import math
from collections import Counter

from tts_bench.strategies.base import Context, Sample, Solve, StrategyResult, strategy
from tts_bench.strategies.parallel import draw_pool, no_answer, pool_size, usable

# The canonical set form (scoring.Scorer.canonical) joins ids with ", ".
_SEP = ","


def elements(ctx: Context, answer: str) -> dict[str, str]:
    """Identity (the scorer's key of the lone element) -> canonical element of one answer."""
    out: dict[str, str] = {}
    for part in answer.split(_SEP):
        part = part.strip()
        if part:
            out.setdefault(ctx.key(part), part)
    return out


def threshold(usable_count: int, min_votes: int | None, min_share: float) -> int:
    """Votes an element needs: `min_votes`, else ceil(min_share × usable samples), at least 1."""
    if min_votes is not None:
        return min_votes
    # the epsilon keeps 0.3 × 10 (= 3.0000000000000004 in floats) at 3
    return max(1, math.ceil(min_share * usable_count - 1e-9))


def canonical_answer(ctx: Context, kept: list[str]) -> str | None:
    """The kept elements in the scorer's own canonical form: extract from a synthesised
    final-answer line (or, for `extract: json`, a JSON answer), so the normalisation stays
    the scorer's."""
    line = ctx.extract(f"Final answer: {', '.join(kept) if kept else 'none'}")
    if line is not None:
        return line
    return ctx.extract(json.dumps({"answer": kept}))


def vote_elements(
    ctx: Context, samples: list[Sample], min_votes: int | None, min_share: float
) -> StrategyResult:
    """Keep the elements contained in at least `threshold` usable samples. Confidence is the
    share of usable samples whose whole set equals the voted set."""
    ok = usable(samples)
    if not ok:
        return no_answer(samples)
    need = threshold(len(ok), min_votes, min_share)
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    per_sample: list[frozenset[str]] = []
    for s in ok:
        els = elements(ctx, s.answer)  # type: ignore[arg-type]
        per_sample.append(frozenset(els))
        counts.update(els.keys())
        for k, v in els.items():
            shown.setdefault(k, v)
    kept_keys = frozenset(k for k, c in counts.items() if c >= need)
    answer = canonical_answer(ctx, [v for k, v in shown.items() if k in kept_keys])
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
