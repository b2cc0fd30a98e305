"""Calibration harness for the adaptive replay: pools with a known answer distribution per
item, the package's replay (`analysis.adaptive.replay`), and the coverage of its accuracy and
mean-samples intervals.

An item's chance of the right answer is drawn from Beta(a, b); a sample abstains with
probability `abstain`, else answers right with that chance, else one of three wrong answers
(weights 3:2:1). The truth of a rule's accuracy and mean samples is the replay's figure on
`truth_items` fresh items (MC error well under the intervals' widths). Used at a reduced
count by tests/test_calibration_routing.py and at the full count by
benchmarks/coverage_routing.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts_bench.analysis.adaptive import replay
from tts_bench.analysis.curves import Pools


@dataclass(frozen=True)
class PoolScenario:
    n: int
    k: int = 16
    a: float = 2.0
    b: float = 1.0
    abstain: float = 0.1


def draw(rng: np.random.Generator, sc: PoolScenario, n: int) -> Pools:
    p = rng.beta(sc.a, sc.b, n)
    u = rng.random((n, sc.k))
    silent = rng.random((n, sc.k)) < sc.abstain
    wrong = rng.choice(["1", "2", "3"], size=(n, sc.k), p=[0.5, 1 / 3, 1 / 6])
    ans = np.where(u < p[:, None], "0", wrong).astype(object)
    ans[silent] = None
    values = (ans == "0").astype(float)
    nan = np.full((n, sc.k), np.nan)
    return Pools(sc.k, (sc.k, sc.k), np.ones(n, bool), nan, nan, None, None, nan,
                 ans.tolist(), values)  # fmt: skip


def truth(sc: PoolScenario, items: int = 40000, seed: int = 12345) -> list[dict]:
    pools = draw(np.random.default_rng(seed), sc, items)
    return replay(pools, orders=1, seed=seed)


@dataclass
class Coverage:
    accuracy: float  # mean over rules of the accuracy-CI coverage
    accuracy_worst: float  # the worst rule's
    samples: float  # mean over rules of the mean-samples-CI coverage
    samples_worst: float


def _covers(ci: list, t: float) -> bool:
    """An interval with an undefined end covers nothing."""
    return ci[0] is not None and ci[1] is not None and ci[0] <= t <= ci[1]


def simulate(sc: PoolScenario, reps: int, *, orders: int = 100, seed: int = 0) -> Coverage:
    rng = np.random.default_rng(seed)
    true = truth(sc)
    acc = np.zeros(len(true))
    used = np.zeros(len(true))
    for i in range(reps):
        rows = replay(draw(rng, sc, sc.n), orders=orders, seed=seed + i)
        for j, (r, t) in enumerate(zip(rows, true, strict=True)):
            acc[j] += _covers(r["accuracy_ci"], t["accuracy"])
            used[j] += _covers(r["mean_samples_ci"], t["mean_samples"])
    acc /= reps
    used /= reps
    return Coverage(float(acc.mean()), float(acc.min()), float(used.mean()), float(used.min()))
