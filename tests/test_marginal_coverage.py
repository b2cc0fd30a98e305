"""The marginal frontier figure (points per extra dollar): its value on a known case, its
unbounded interval when the cost difference is near 0, and its coverage by simulation."""

from __future__ import annotations

import numpy as np

from tts_bench.analysis.frontier import Point, marginal, pareto


def _point(label: str, value: np.ndarray, cost: np.ndarray) -> Point:
    n = value.size
    ones = np.ones(n, dtype=bool)
    return Point(label, label, None, value.astype(float), ones, cost, np.full(n, 0.1), ones)


def test_known_ratio_and_frontier_rows() -> None:
    n = 40
    a = _point("cot", np.r_[np.ones(20), np.zeros(20)], np.full(n, 0.001))
    b = _point("sc", np.r_[np.ones(30), np.zeros(10)], np.full(n, 0.009))
    worse = _point("slow", np.zeros(n), np.full(n, 0.02))
    rows = {r["label"]: r for r in pareto([a, b, worse], resamples=200)}
    m = rows["sc"]["marginal"]
    assert m["vs"] == "cot" and m["n_paired"] == n
    # 25 points for $0.008 more per request: 3,125 points per dollar
    assert abs(m["points_per_usd"] - 25 / 0.008) < 1e-6
    assert m["lo"] <= m["points_per_usd"] <= m["hi"] and not m["ci_unbounded"]
    assert rows["cot"]["marginal"] is None and rows["slow"]["marginal"] is None


def test_cost_difference_near_zero_gives_an_unbounded_interval() -> None:
    rng = np.random.default_rng(1)
    n = 30
    a = _point("a", rng.integers(0, 2, n), rng.uniform(0.001, 0.003, n))
    # dearer by a hair on average, cheaper on many items: resampled differences cross 0
    step = np.tile([6e-4, -5.8e-4], n // 2)  # mean +$0.00001, sd $0.0006
    b = _point("b", rng.integers(0, 2, n), a.cost + step)
    m = marginal(a, b, resamples=500)
    assert m["points_per_usd"] is not None and m["delta_cost_usd"] > 0
    assert m["ci_unbounded"] and m["lo"] is None and m["hi"] is None


def test_coverage_with_known_truth() -> None:
    """Paired Bernoulli values (p 0.55 -> 0.70) and costs ($0.002 -> $0.010 plus noise) on
    80 items: the 95% interval covers the true 1,875 points per dollar in 88-99% of 300
    repetitions (binomial sd at 95% is 1.3 points)."""
    rng = np.random.default_rng(7)
    n, reps, p_a, p_b, c_a, c_b = 80, 300, 0.55, 0.70, 0.002, 0.010
    truth = 100 * (p_b - p_a) / (c_b - c_a)
    covered = unbounded = 0
    for r in range(reps):
        u = rng.uniform(size=n)  # shared: the two configs' values are correlated, as in a run
        va, vb = (u < p_a).astype(float), (u < p_b).astype(float)
        ca = c_a * rng.lognormal(0, 0.5, n) / np.exp(0.125)
        cb = c_b * rng.lognormal(0, 0.5, n) / np.exp(0.125)
        m = marginal(_point("a", va, ca), _point("b", vb, cb), resamples=400, seed=r)
        if m["ci_unbounded"]:
            unbounded += 1
        elif m["lo"] <= truth <= m["hi"]:
            covered += 1
    assert unbounded == 0
    assert 0.88 * reps <= covered <= 0.99 * reps, covered
