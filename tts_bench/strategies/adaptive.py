"""Adaptive consistency: self-consistency that stops sampling once the vote is settled.

Samples are drawn in small parallel batches; after each batch a stopping rule looks at the
votes so far. Latency is the sum over batches of each batch's slowest sample.
"""

from __future__ import annotations

from functools import lru_cache

from tts_bench.strategies.base import Context, Sample, Solve, StrategyResult, strategy
from tts_bench.strategies.parallel import draw_pool, vote

RULES = ("beta", "esc", "majority")


@lru_cache(maxsize=4096)
def beta_confidence(top: int, runner_up: int) -> float:
    """P(p_top > p_runner_up) under the Beta posterior of Adaptive-Consistency
    (Aggarwal et al. 2023): P(X > 1/2) for X ~ Beta(top + 1, runner_up + 1), the
    regularised upper incomplete beta (the value of `scipy.stats.beta.sf`, without importing
    scipy.stats; the same function as `analysis.adaptive.beta_prob`)."""
    from scipy.special import betaincc

    return float(betaincc(top + 1.0, runner_up + 1.0, 0.5))


def should_stop(
    rule: str, pool: list[Sample], ctx: Context, *, threshold: float, share: float, window: int
) -> bool:
    """Whether to stop after the samples drawn so far: `analysis.stopping.stops` (the function
    the offline replay uses) at the pool's last sample. A sample votes with its answer key when
    its status is ok and it has an answer; otherwise it abstains."""
    import numpy as np

    from tts_bench.analysis.stopping import stops
    from tts_bench.analysis.stopping import tally as running

    seen: dict[str, int] = {}
    ids = [
        seen.setdefault(ctx.key(s.answer), len(seen))
        if s.status == "ok" and s.answer is not None
        else -1
        for s in pool
    ]
    if not ids:
        return False
    knob = {"esc": window, "beta": threshold, "majority": share}[rule]
    name = "share" if rule == "majority" else rule
    return bool(stops(name, knob, running(np.array([ids])), window)[0, -1])


@strategy("adaptive_consistency")
def adaptive_consistency(
    n_max: int = 16,
    rule: str = "beta",
    batch: int | None = None,
    threshold: float = 0.95,
    window: int = 5,
    share: float = 0.7,
    cot: bool = True,
) -> Solve:
    """Adaptive consistency: sample in parallel batches until a stopping rule fires, at most
    `n_max` samples, then majority-vote over every sample drawn.

    Knobs: `n_max` — sample cap; `rule` — `beta` (Aggarwal et al. 2023: stop when
    P(top answer beats the runner-up) under Beta(top+1, runner_up+1) ≥ `threshold`, default
    0.95), `esc` (Li et al. 2024, early-stopping self-consistency: batches are windows of
    `window` samples, stop when one window all agrees or all abstains), `majority` (stop when
    the top answer holds ≥ `share` of the usable votes, after at least 3 samples); `beta` and
    `majority` also stop once the last `window` samples all abstained (no answer, or failed);
    `batch` — samples per parallel batch (default 4;
    `window` for esc); `cot` — CoT prompt. `info.stopped_at` = samples drawn. A batch with
    a failed call ends the sampling: the record is infrastructure-failed, and a resume
    replays the cached samples and re-draws the rest.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if n_max < 1 or window < 1 or (batch is not None and batch < 1):
        raise ValueError("n_max, batch and window must be >= 1")
    if not 0.5 <= threshold < 1 or not 0 < share <= 1:
        raise ValueError("threshold must be in [0.5, 1) and share in (0, 1]")
    step = window if rule == "esc" else (batch or 4)

    async def solve(ctx: Context) -> StrategyResult:
        pool: list[Sample] = []
        batches = 0
        while len(pool) < n_max:
            size = min(step, n_max - len(pool))
            pool.extend(await draw_pool(ctx, size, cot=cot, start=len(pool)))
            batches += 1
            if ctx.infra_status() is not None:
                break  # the record is infrastructure-failed (see vote): draw no more
            if should_stop(rule, pool, ctx, threshold=threshold, share=share, window=window):
                break
        result = vote(ctx, pool)
        result.info.update({"stopped_at": len(pool), "batches": batches, "rule": rule})
        return result

    return solve
