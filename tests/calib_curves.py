"""Simulation with known truth for the curve verdicts over N (levels off / still rising / falls).

Each item has a probability p of a correct sample, p ~ Beta(a, b) (item difficulty); a wrong
sample gives the item's one wrong answer. A run draws n items and a pool of M samples per
item; the per-item curve is the package's exact maj@k of that pool (`majority_at_k`, which
only depends on the pool's count of correct samples). The true curve over the item population
is exact: sum_c P(c correct of M) x maj@k(pool with c correct), P(c) beta-binomial, because
the pool estimator is unbiased for maj@k of fresh samples.

`run_cell` replays the analysis (`curve_verdict`, the shared bootstrap weights, the seeded
split) `reps` times and returns what each verdict claimed next to the truth.
Used by tests/test_calibration_curves.py (few repetitions) and benchmarks/coverage_curves.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import betabinom

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci, weight_matrix
from tts_bench.analysis.estimators import majority_at_k
from tts_bench.analysis.halves import split_halves
from tts_bench.analysis.saturation import (
    curve_verdict,
    max_drop,
    saturation_point,
    span_interval,
)

EPSILON = 1.0  # points
CONFIDENCE = 0.95

# name -> (a, b) of the Beta item difficulty; true curves at M = 16 (points):
SCENARIOS = {
    "levels off early": (0.5, 0.3),  # 62.5 -> 63.8; gain left after N=3 is 0.5
    "slow rise": (1.0, 0.5),  # 66.7 -> 70.2; gain left after N=5 is 0.9
    "still rising": (3.0, 2.0),  # 60.0 -> 66.7; gain left after N=7 is 1.6
    "falls": (1.0, 1.5),  # 40.0 -> 36.1: hard items lose to their wrong answer
    "flat": (0.6, 0.6),  # 50.0 at every N: rising and falling items cancel
}


@lru_cache(maxsize=8)
def pool_table(m: int) -> np.ndarray:
    """(M+1, M): row c is the exact maj@k curve of a pool with c correct samples of M."""
    return np.array(
        [
            majority_at_k(
                ["right"] * c + ["wrong"] * (m - c), correct=[True] * c + [False] * (m - c)
            )
            for c in range(m + 1)
        ]
    )


def true_curve(a: float, b: float, m: int) -> np.ndarray:
    """The population's maj@k for k = 1..M (fractions)."""
    return betabinom.pmf(np.arange(m + 1), m, a, b) @ pool_table(m)


@dataclass
class Cell:
    """Per-repetition outcomes of one scenario at one n (points unless said)."""

    truth: np.ndarray  # true curve, points
    verdict: list[str]
    point: list[int]  # reported saturation point (cross-fitted)
    gain: list[float]  # reported gain (cross-fitted, or over the fixed span)
    gain_lo: list[float]
    gain_hi: list[float]
    gain_from: list[int]
    gain_target: list[float]  # what the cross-fitted figure estimates: mean of the halves' truths
    cross_fitted: list[bool]
    falls: list[bool]
    old_point: list[int]  # in-sample saturation point
    old_gain: list[float]  # in-sample gain left, read at the in-sample point
    old_hi: list[float]
    old_falls: list[bool]  # in-sample drop >= 0.1 point


def remaining(truth: np.ndarray, n: int) -> float:
    """True worst gain left after N=n up to K: max_{N' >= n} (truth[K] - truth[N'])."""
    return float(np.max(truth[-1] - truth[n - 1 :]))


def _span(y: np.ndarray, r: np.ndarray):  # noqa: ANN202 - a closure over one run
    def span(lo_n: int, hi_n: int) -> tuple[float | None, list[float | None]]:
        return span_interval(y, np.ones(len(y), dtype=bool), r, lo_n, hi_n, CONFIDENCE)

    return span


def run_cell(
    a: float,
    b: float,
    n: int,
    *,
    m: int = 16,
    reps: int = 200,
    resamples: int = 1000,
    seed: int = 0,
) -> Cell:
    """`reps` simulated runs of n items with pools of m; resamples: bootstrap size."""
    rng = np.random.default_rng(seed)
    table = pool_table(m)
    truth = 100 * true_curve(a, b, m)
    eps = EPSILON / 100
    out = Cell(truth, *([] for _ in range(13)))
    for rep in range(reps):
        p = rng.beta(a, b, size=n)
        y = table[rng.binomial(m, p)]
        w = weight_matrix(n, resamples=resamples, seed=int(rng.integers(2**31)))
        halves = split_halves(np.ones(n, dtype=bool), seed=rep)
        batch = MeanBatch(w)
        ones = np.ones(n)
        cols = [batch.add(y[:, j], ones) for j in range(m)]
        r = 100 * batch.run()[:, cols]
        ybar = 100 * y.mean(axis=0)

        v = curve_verdict(y, halves, w, EPSILON, CONFIDENCE, _span(y, r / 100))
        g = v["gain"]
        out.verdict.append(v["verdict"])
        out.point.append(v["point"])
        out.gain.append(g["value"])
        out.gain_lo.append(g["ci"][0])
        out.gain_hi.append(g["ci"][1])
        out.gain_from.append(g["from"])
        out.cross_fitted.append(g["method"] == "cross-fitted halves")
        out.gain_target.append(float(np.mean([truth[-1] - truth[q - 1] for q in v["points"]])))
        out.falls.append(bool(v["falls"]))
        sp = saturation_point(ybar / 100, eps)
        out.old_point.append(sp)
        out.old_gain.append(float(ybar[-1] - ybar[sp - 1]))
        out.old_hi.append(percentile_ci(r[:, -1] - r[:, sp - 1], CONFIDENCE)[1])
        out.old_falls.append(max_drop(ybar) >= 0.1)
    return out


def stats(c: Cell) -> dict[str, float]:
    """The calibration figures of a cell (rates in %, gains in points)."""
    k = len(c.truth)
    said = [v == "levels_off" for v in c.verdict]
    true_left = [remaining(c.truth, q) for q in c.point]
    held = [s and t <= EPSILON + 1e-9 for s, t in zip(said, true_left, strict=True)]
    old_said = [q < k for q in c.old_point]
    old_true = [remaining(c.truth, q) for q in c.old_point]
    old_held = [s and t <= EPSILON + 1e-9 for s, t in zip(old_said, old_true, strict=True)]
    cf = [i for i, x in enumerate(c.cross_fitted) if x]
    covered = [
        c.gain_lo[i] is not None
        and c.gain_hi[i] is not None
        and c.gain_lo[i] - 1e-9 <= c.gain_target[i] <= c.gain_hi[i] + 1e-9
        for i in cf
    ]
    rising = [v == "still_rising" for v in c.verdict]
    rising_true = [
        s and c.truth[-1] - c.truth[f - 1] > 0 for s, f in zip(rising, c.gain_from, strict=True)
    ]
    true_falls = max_drop(c.truth) > 1e-6

    def pct(x: list[bool]) -> float:
        return 100 * float(np.mean(x)) if x else float("nan")

    def share(num: list[bool], den: list[bool]) -> float:
        return 100 * sum(num) / sum(den) if sum(den) else float("nan")

    return {
        "old_levels_off_pct": pct(old_said),
        "old_levels_off_true_pct": share(old_held, old_said),
        "old_gain_reported": float(np.mean(c.old_gain)),
        "old_gain_true": float(np.mean(old_true)),
        "new_levels_off_pct": pct(said),
        "new_levels_off_true_pct": share(held, said),
        "new_false_levels_off_pct": pct([s and not h for s, h in zip(said, held, strict=True)]),
        "new_gain_reported": float(np.mean([c.gain[i] for i in cf])) if cf else float("nan"),
        "new_gain_target": float(np.mean([c.gain_target[i] for i in cf])) if cf else float("nan"),
        "new_gain_true_at_point": float(np.mean([true_left[i] for i in cf]))
        if cf
        else float("nan"),
        "new_gain_coverage_pct": pct(covered),
        "still_rising_pct": pct(rising),
        "still_rising_true_pct": share(rising_true, rising),
        "old_falls_pct": pct(c.old_falls),
        "new_falls_pct": pct(c.falls),
        "truly_falls": float(true_falls),
    }
