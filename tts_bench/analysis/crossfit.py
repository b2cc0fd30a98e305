"""Choosing routes, and scoring the choice out of sample by cross-fitting.

The rule (`choose`): among the operating points measured on enough items (`covering`) that
meet the budgets, the best single point is the most accurate one overall (cheapest on ties),
and each stratum's route is the cheapest point within epsilon of the best accuracy measured
in that stratum (the single point when nothing there meets the budgets).

Scored on the items it was chosen on, the choice is optimistic: the maximum of several noisy
accuracies exceeds the truth of the point it picks. `cross_fit` splits the items into k folds
(stratified by the routing stratum, seeded), chooses on k - 1 folds with the same rule,
and reads each held-out item's outcome under the choice made without it. The per-item
outcomes so collected are out of sample: their mean estimates the accuracy (and cost) of
routes chosen by this rule, without the selection bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_bench.analysis.frontier import Point

FOLDS = 5


def inflation(k: int) -> float:
    """Variance factor of a k-fold cross-fitted mean over the independent-items variance:
    1 + k / (k - 1), Nadeau & Bengio's (2003) correction n_test / n_train per fold. The
    held-out outcomes are not independent (each item helped choose the routes the others
    are read under), and no unbiased estimate of the variance exists (Bengio & Grandvalet
    2004); by simulation the correction is close when the choice is unstable (equal configs)
    and conservative when it is not."""
    return 1.0 + k / (k - 1)


def feasible(s: dict[str, Any], max_cost: float | None, max_p95: float | None) -> bool:
    if s["accuracy"] is None:
        return False
    if max_cost is not None and (s["cost_usd"] is None or s["cost_usd"] > max_cost):
        return False
    return not (
        max_p95 is not None and (s["latency_p95_s"] is None or s["latency_p95_s"] > max_p95)
    )


def pick(cands: list[tuple[Point, dict[str, Any]]], eps: float) -> tuple[Point, dict] | None:
    """Cheapest within eps (fraction) of the best accuracy; unknown cost counts as dearest."""
    if not cands:
        return None
    best = max(s["accuracy"] for _, s in cands)
    near = [(p, s) for p, s in cands if s["accuracy"] >= best - eps - 1e-12]
    return min(
        near,
        key=lambda ps: (
            np.inf if ps[1]["cost_usd"] is None else ps[1]["cost_usd"],
            -ps[1]["accuracy"],
        ),
    )


def covering(cands: list[tuple[Point, dict[str, Any]]]) -> list[tuple[Point, dict[str, Any]]]:
    """Candidates measured on at least half as many items as the best-covered one: in a
    partial run a config that reached one item must not win on that one item."""
    most = max((s["n_items"] or 0 for _, s in cands), default=0)
    return [(p, s) for p, s in cands if (s["n_items"] or 0) * 2 >= most]


@dataclass
class Choice:
    """The rule's choice on some items: the best single point and one point per stratum."""

    single: tuple[Point, dict[str, Any]] | None
    routes: dict[str, tuple[Point, dict[str, Any]]]  # stratum value -> (point, its stats)
    best: dict[str, tuple[Point, dict[str, Any]]]  # the most accurate feasible point there
    meets: dict[str, bool]  # some point meets the budgets in that stratum


def choose(
    pts: list[Point],
    labels: np.ndarray,
    values: list[str],
    train: np.ndarray,
    eps: float,
    max_cost: float | None,
    max_p95: float | None,
) -> Choice:
    """The rule applied to the items in `train` (bool mask). eps: tolerance as a fraction;
    max_cost, max_p95: budgets (None: none)."""
    singles = covering([(p, p.stats(train)) for p in pts])
    single = pick([(p, s) for p, s in singles if feasible(s, max_cost, max_p95)], 0.0)
    routes, best, meets = {}, {}, {}
    for v in values:
        m = train & (labels == v)
        cands = covering([(p, p.stats(m)) for p in pts])
        ok = [(p, s) for p, s in cands if feasible(s, max_cost, max_p95)]
        picked = pick(ok, eps)
        if picked is None and single is not None:  # nothing meets the budgets here
            picked = (single[0], single[0].stats(m))
        if picked is None:
            continue
        routes[v] = picked
        best[v] = max(ok, key=lambda ps: ps[1]["accuracy"]) if ok else picked
        meets[v] = bool(ok)
    return Choice(single, routes, best, meets)


def folds_of(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold id per item: each stratum's items shuffled (seeded) and dealt round-robin, the deal
    continuing across strata so fold sizes differ by at most one."""
    rng = np.random.default_rng(seed)
    out = np.zeros(labels.size, dtype=np.int64)
    start = 0
    for v in sorted(set(labels.tolist()), key=str):
        idx = np.flatnonzero(labels == v)
        rng.shuffle(idx)
        out[idx] = (start + np.arange(idx.size)) % k
        start += idx.size
    return out


@dataclass
class Outcomes:
    """Per-item figures under some assignment of points to items (NaN cost/latency =
    unknown)."""

    value: np.ndarray
    scored: np.ndarray
    cost: np.ndarray
    latency: np.ndarray
    present: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Outcomes:
        nan = np.full(n, np.nan)
        return cls(np.zeros(n), np.zeros(n, bool), nan.copy(), nan.copy(), np.zeros(n, bool))

    def take(self, p: Point, m: np.ndarray) -> None:
        self.value[m] = p.value[m]
        self.scored[m] = p.scored[m]
        self.cost[m] = p.cost[m]
        self.latency[m] = p.latency[m]
        self.present[m] = p.present[m]


def assign(choice: dict[str, Point], labels: np.ndarray, mask: np.ndarray, out: Outcomes) -> None:
    """Fill `out` on the items in `mask` with each item's routed point."""
    for v, p in choice.items():
        out.take(p, mask & (labels == v))


def cross_fit(
    pts: list[Point],
    labels: np.ndarray,
    values: list[str],
    eps: float,
    max_cost: float | None,
    max_p95: float | None,
    *,
    folds: int = FOLDS,
    seed: int = 0,
) -> tuple[Outcomes, Outcomes, np.ndarray] | None:
    """Out-of-sample outcomes of the routed policy and of the best single point, and the fold
    of each item; None when some fold leaves no feasible single point. folds: k (at most the
    smallest stratum size, at least 2); seed: the fold assignment."""
    n = labels.size
    k = max(2, min(folds, min(int((labels == v).sum()) for v in values)))
    if n < 2 or k > n:
        return None
    fold = folds_of(labels, k, seed)
    routed, single = Outcomes.empty(n), Outcomes.empty(n)
    for f in range(k):
        held = fold == f
        c = choose(pts, labels, values, ~held, eps, max_cost, max_p95)
        if c.single is None:
            return None
        single.take(c.single[0], held)
        # a stratum nothing covers on the training folds goes to the single point
        assign({v: c.routes.get(v, c.single)[0] for v in values}, labels, held, routed)
    return routed, single, fold
