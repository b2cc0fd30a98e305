"""Coverage of the paired, stratified accuracy-delta CI on simulated data with a known delta,
and the cluster bootstrap widening the CI when items share a source."""

from __future__ import annotations

import numpy as np

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci, weight_matrix

# two strata with fixed sizes (a stratified sample); joint (baseline, config) cell
# probabilities per stratum: P(0,0), P(0,1), P(1,0), P(1,1)
CELLS = {"easy": [0.10, 0.08, 0.04, 0.78], "hard": [0.40, 0.15, 0.07, 0.38]}
SIZES = {"easy": 120, "hard": 80}


def true_delta() -> float:
    n = sum(SIZES.values())
    return sum(SIZES[s] / n * (c[1] - c[2]) for s, c in CELLS.items())


def simulate(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    d, strata = [], []
    for s, cells in CELLS.items():
        cell = rng.choice(4, size=SIZES[s], p=cells)
        d.append(np.select([cell == 1, cell == 2], [1.0, -1.0], 0.0))
        strata += [s] * SIZES[s]
    return np.concatenate(d), strata


def test_delta_ci_coverage_93_to_97_percent() -> None:
    rng = np.random.default_rng(20240611)
    truth = true_delta()
    hits = 0
    reps = 200
    for rep in range(reps):
        d, strata = simulate(rng)
        w = weight_matrix(d.size, resamples=2000, seed=rep, strata=strata)
        batch = MeanBatch(w)
        batch.add(d, np.ones_like(d))
        lo, hi = percentile_ci(batch.run()[:, 0], 0.95)
        hits += lo <= truth <= hi
    assert 0.93 <= hits / reps <= 0.97


def test_cluster_bootstrap_widens_ci_for_correlated_items() -> None:
    rng = np.random.default_rng(7)
    clusters = np.repeat(np.arange(40), 10)  # 40 sources x 10 items that share an outcome
    effect = rng.normal(0, 1, 40)[clusters] + rng.normal(0, 0.3, clusters.size)
    naive = weight_matrix(clusters.size, resamples=2000, seed=1)
    clustered = weight_matrix(clusters.size, resamples=2000, seed=1, clusters=clusters.tolist())
    width = []
    for w in (naive, clustered):
        b = MeanBatch(w)
        b.add(effect, np.ones_like(effect))
        lo, hi = percentile_ci(b.run()[:, 0])
        width.append(hi - lo)
    assert width[1] > 2 * width[0]  # the design effect is ~ sqrt(1 + 9 * 0.9) ~ 3
