"""Calibration harness for the routing figures: operating points with a known truth per
stratum, the package's own routing code (`analysis.routing.route_points`), and the bias and
coverage of what it reports.

A scenario gives each config a true accuracy per stratum (strata of equal size) and a cost.
Every item's outcome under a config is an independent Bernoulli draw of that accuracy. The
truth of a reported figure is the true accuracy of what was chosen on the data: for the routed
policy, the item share of each stratum x the true accuracy there of the config routed to it;
for the best single, that config's true overall accuracy. Used at a reduced repetition count
by tests/test_calibration_routing.py and at the full count by benchmarks/coverage_routing.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tts_bench.analysis.bootstrap import weight_matrix
from tts_bench.analysis.frontier import Point
from tts_bench.analysis.routing import route_points


@dataclass(frozen=True)
class Scenario:
    """n items; acc[c][s] the true accuracy of config c in stratum s; cost[c] per request."""

    n: int
    acc: tuple[tuple[float, ...], ...]
    cost: tuple[float, ...]
    epsilon: float = 1.0  # points

    @property
    def strata(self) -> int:
        return len(self.acc[0])


def null(n: int, configs: int = 4) -> Scenario:
    """Configs truly equal: the same accuracy per stratum (strata of 90/75/60/45%) and cost."""
    row = (0.9, 0.75, 0.6, 0.45)
    return Scenario(n, (row,) * configs, (0.001,) * configs)


def specialists(n: int) -> Scenario:
    """A cheap config good on the easy strata, a dear one good everywhere, two in between."""
    return Scenario(
        n,
        ((0.95, 0.85, 0.40, 0.30), (0.96, 0.88, 0.75, 0.60), (0.90, 0.80, 0.60, 0.50),
         (0.93, 0.86, 0.70, 0.55)),
        (0.001, 0.01, 0.002, 0.004),
    )  # fmt: skip


def draw(rng: np.random.Generator, sc: Scenario) -> tuple[list[Point], np.ndarray, list[str]]:
    values = [f"s{j}" for j in range(sc.strata)]
    stratum = np.arange(sc.n) * sc.strata // sc.n  # equal-size strata
    labels = np.asarray(values)[stratum]
    pts = []
    ones = np.ones(sc.n, dtype=bool)
    for c, row in enumerate(sc.acc):
        y = (rng.random(sc.n) < np.asarray(row)[stratum]).astype(float)
        cost = np.full(sc.n, sc.cost[c])
        pts.append(Point(f"c{c}", f"c{c}", None, y, ones, cost, np.ones(sc.n), ones))
    return pts, labels, values


@dataclass
class Rep:
    routed: float  # cross-fitted routed accuracy
    routed_ci: tuple[float, float]
    routed_in_sample: float
    routed_truth: float  # true accuracy of the routes chosen
    single: float
    single_ci: tuple[float, float]
    single_in_sample: float
    single_truth: float
    delta_ci: tuple[float, float]  # routed - single, points


def one(rng: np.random.Generator, sc: Scenario, resamples: int, seed: int) -> Rep:
    pts, labels, values = draw(rng, sc)
    w = weight_matrix(sc.n, resamples=resamples, seed=seed, strata=labels.tolist())
    r = route_points(
        pts, labels, values, by="stratum", epsilon=sc.epsilon, max_cost=None, max_p95=None,
        w=w, confidence=0.95,
    )  # fmt: skip
    share = {v: float((labels == v).mean()) for v in values}
    routed_truth = sum(
        share[v] * sc.acc[int(r["routes"][v]["config"][1:])][j] for j, v in enumerate(values)
    )
    c = int(r["best_single"]["config"][1:])
    single_truth = sum(share[v] * sc.acc[c][j] for j, v in enumerate(values))
    return Rep(
        r["routed"]["accuracy"],
        tuple(r["routed"]["accuracy_ci"]),
        r["in_sample"]["routed"]["accuracy"],
        routed_truth,
        r["best_single"]["accuracy"],
        tuple(r["best_single"]["accuracy_ci"]),
        r["in_sample"]["best_single"]["accuracy"],
        single_truth,
        tuple(r["routed_vs_single"]["accuracy_points"]["ci"]),
    )


@dataclass
class Result:
    reps: int
    gain: float  # mean (cross-fitted routed - truth), points
    gain_se: float
    gain_in_sample: float  # mean (in-sample routed - truth), points
    single_gain: float
    single_gain_se: float
    single_gain_in_sample: float
    coverage: float  # routed accuracy CI covers the truth of the chosen routes
    width: float  # its mean width, points
    single_coverage: float
    delta_coverage: float  # routed - single CI covers the true difference of the choices


def simulate(sc: Scenario, reps: int, *, seed: int = 0, resamples: int = 200) -> Result:
    rng = np.random.default_rng(seed)
    out = [one(rng, sc, resamples, seed + i) for i in range(reps)]
    g = np.array([x.routed - x.routed_truth for x in out])
    gs = np.array([x.single - x.single_truth for x in out])

    def covers(ci: tuple[float, float], t: float) -> bool:
        return ci[0] - 1e-12 <= t <= ci[1] + 1e-12

    return Result(
        reps,
        100 * float(g.mean()),
        100 * float(g.std(ddof=1)) / math.sqrt(reps),
        100 * float(np.mean([x.routed_in_sample - x.routed_truth for x in out])),
        100 * float(gs.mean()),
        100 * float(gs.std(ddof=1)) / math.sqrt(reps),
        100 * float(np.mean([x.single_in_sample - x.single_truth for x in out])),
        float(np.mean([covers(x.routed_ci, x.routed_truth) for x in out])),
        100 * float(np.mean([x.routed_ci[1] - x.routed_ci[0] for x in out])),
        float(np.mean([covers(x.single_ci, x.single_truth) for x in out])),
        float(np.mean([covers(x.delta_ci, 100 * (x.routed_truth - x.single_truth)) for x in out])),
    )
