"""Operating points (every config as run, plus every N of the pool of every config whose `n`
knob is its pool size) and the cost-accuracy Pareto frontier over them.

A point is a per-item vector of values, costs and latencies, so the same object serves the
frontier (overall means) and the routing (means within a stratum). Pool points use the
config's selector curve (majority, best-of-k when the samples carry scores, or set_vote's
per-element vote) and the expected cost and critical-path latency at that N. Only
self_consistency, best_of_n, set_vote (and imported) pools give pool points: for the others
(adaptive_consistency, router, ...) `n: N` is no setting the strategy can load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_bench.analysis.curves import N_IS_POOL_SIZE, Pools
from tts_bench.analysis.figures import fnum
from tts_bench.analysis.load import RunData
from tts_bench.analysis.stats import quantile
from tts_bench.analysis.steps import Step, driven, results, together


@dataclass
class Point:
    label: str  # "sc" for the config as run, "sc@4" for N = 4 from its pool
    config: str
    n: int | None  # the N of a pool point; None for the config as run
    value: np.ndarray  # (items,) scorer value
    scored: np.ndarray  # (items,) bool
    cost: np.ndarray  # (items,) NaN = unknown
    latency: np.ndarray  # (items,) NaN = unknown (or no record)
    present: np.ndarray  # (items,) bool: the point has a record (or pool) for the item

    def stats(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        """Mean value over scored items, mean cost over the items whose cost is known (the
        unknown ones counted), P95 latency (None when any present item's latency is
        unknown)."""
        m = np.ones_like(self.scored) if mask is None else mask
        sm = self.scored & m
        # nothing scored: no cost or latency either (those of failed calls are not the point's)
        pres = m & self.present if sm.any() else np.zeros_like(sm)
        costs = self.cost[pres]
        known = costs[~np.isnan(costs)]
        lat = self.latency[pres]
        return {
            "accuracy": fnum(self.value[sm].mean()) if sm.any() else None,
            "cost_usd": fnum(known.mean()) if known.size else None,
            "cost_unknown": int(costs.size - known.size),
            "latency_p95_s": None if np.isnan(lat).any() else quantile(lat, 0.95),
            "n_items": int(sm.sum()),
        }


def pool_grid(spec: dict[str, Any], k: int) -> list[int]:
    """The N values a pool is read at: the config's `n` list when it has one, else powers of
    two below the pool size."""
    n = spec.get("n")
    if isinstance(n, list) and n:
        return sorted({int(x) for x in n if 1 <= int(x) < k})
    grid, x = [], 1
    while x < k:
        grid.append(x)
        x *= 2
    return grid


def points(data: RunData, pools: dict[str, Pools]) -> list[Point]:
    out = []
    for c, name in enumerate(data.configs):
        spec = data.config_specs.get(name, {})
        out.append(
            Point(
                name,
                name,
                None,
                data.value[c],
                data.scored[c],
                data.cost[c],
                data.latency[c],
                data.present[c],
            )
        )
        p = pools.get(name)
        if p is None or str(spec.get("strategy") or "") not in N_IS_POOL_SIZE:
            continue
        curve = p.majority
        if p.selector == "best_of_k" and p.best_of_k is not None:
            curve = p.best_of_k
        elif p.selector == "set_vote" and p.set_vote is not None:
            curve = p.set_vote
        for k in pool_grid(spec, p.k):
            cost = p.cost[:, k - 1] if p.cost is not None else np.full(len(data.items), np.nan)
            lat = np.where(p.mask, p.latency[:, k - 1], np.nan)
            out.append(Point(f"{name}@{k}", name, k, curve[:, k - 1], p.mask, cost, lat, p.mask))
    return out


def pareto_steps(pts: list[Point], **kw: Any) -> Step[list[dict[str, Any]]]:
    """Every point with its overall figures and `on_frontier`: no other point is at least as
    cheap and strictly more accurate (or cheaper and as accurate). Unknown cost: never on it.
    Each frontier point but the cheapest gets `marginal` (see `marginal`, which takes kw)
    against the next cheaper frontier point; every other row has `marginal` None."""
    rows = []
    for p in pts:
        s = p.stats()
        rows.append({"label": p.label, "config": p.config, "n": p.n, **s, "on_frontier": False})
    known = [r for r in rows if r["cost_usd"] is not None and r["accuracy"] is not None]
    known.sort(key=lambda r: (r["cost_usd"], -r["accuracy"]))
    best = -np.inf
    for r in known:
        if r["accuracy"] > best + 1e-12:
            r["on_frontier"] = True
            best = r["accuracy"]
    gains = yield from marginals_steps(pts, rows, **kw)
    for r in rows:
        r["marginal"] = gains.get(r["label"])
    return rows


pareto = driven(pareto_steps)


MARGINAL_RESAMPLES = 1_000  # the frontier's few ratios need no more for a 95% interval


def marginal_steps(
    lo: Point,
    hi: Point,
    *,
    resamples: int = MARGINAL_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
    strata: list[object] | None = None,
    w: np.ndarray | None = None,
) -> Step[dict[str, Any]]:
    """Accuracy points gained per extra dollar per request going from frontier point `lo` to
    the next dearer frontier point `hi`, paired on the items both scored with known costs:
    100 · mean(value_hi − value_lo) / mean(cost_hi − cost_lo), with a paired (stratified)
    percentile bootstrap interval. Knobs: `resamples`, `seed`, `confidence`, `strata` (one
    label per item, resampled within), `w` (a bootstrap counts matrix over all items, shared by
    the frontier's steps; None draws one over the paired items).

    The statistic is a ratio whose denominator can come near 0: when more than (1 −
    confidence) / 2 of the resampled cost differences are ≤ 0 the confidence set is unbounded
    (as Fieller's would be), so `lo`/`hi` are None and `ci_unbounded` is true rather than a
    finite interval that would under-cover."""
    from tts_bench.analysis.bootstrap import MeanBatch, counts_matrix, percentile_ci

    both = lo.scored & hi.scored & ~np.isnan(lo.cost) & ~np.isnan(hi.cost)
    out: dict[str, Any] = {
        "vs": lo.label,
        "n_paired": int(both.sum()),
        "delta_points": None,
        "delta_cost_usd": None,
        "points_per_usd": None,
        "lo": None,
        "hi": None,
        "ci_unbounded": False,
    }
    if not both.any():
        return out
    dv = np.where(both, hi.value - lo.value, 0.0)
    dc = np.where(both, np.nan_to_num(hi.cost) - np.nan_to_num(lo.cost), 0.0)
    n = both.sum()
    d_pts, d_cost = 100 * dv.sum() / n, dc.sum() / n
    out["delta_points"], out["delta_cost_usd"] = fnum(d_pts), fnum(d_cost)
    if d_cost <= 0:  # not dearer on the items both have: no ratio
        return out
    out["points_per_usd"] = fnum(d_pts / d_cost)
    idx = np.flatnonzero(both)
    if idx.size < 2:
        return out
    if w is None:
        w = counts_matrix(
            idx.size,
            resamples=resamples,
            seed=seed,
            strata=[strata[i] for i in idx] if strata is not None else None,
        )
    else:  # the shared matrix: items off the pair weigh 0 (dv, dc are 0 there)
        idx = np.arange(both.size)
    batch = MeanBatch(w)
    j_ratio = batch.add(100 * dv[idx], dc[idx])
    j_cost = batch.add(dc[idx], both[idx].astype(float))
    res = yield from results(batch)
    if np.mean(res[:, j_cost] <= 0) > (1 - confidence) / 2:
        out["ci_unbounded"] = True
        return out
    lo_ci, hi_ci = percentile_ci(res[:, j_ratio], confidence)
    out["lo"], out["hi"] = fnum(lo_ci), fnum(hi_ci)
    return out


marginal = driven(marginal_steps)


def marginals_steps(
    pts: list[Point], rows: list[dict[str, Any]], **kw: Any
) -> Step[dict[str, dict[str, Any]]]:
    """{label: marginal(previous frontier point, this one)} for every frontier row but the
    cheapest (rows as `pareto` gives them; kw as `marginal`). A step: every frontier step's
    interval in one round."""
    by_label = {p.label: p for p in pts}
    front = sorted(
        (r for r in rows if r["on_frontier"]), key=lambda r: (r["cost_usd"], -r["accuracy"])
    )
    steps = list(zip(front, front[1:], strict=False))
    if not steps:
        return {}
    from tts_bench.analysis.bootstrap import counts_matrix

    n = len(pts[0].value)
    # one counts matrix for every step: the caller's (the run's own resampling) or one drawn
    # here once (the draw dominates at 100,000 items)
    w = kw.pop("w", None)
    if w is None:
        w = counts_matrix(
            n,
            resamples=kw.get("resamples", MARGINAL_RESAMPLES),
            seed=kw.get("seed", 0),
            strata=kw.get("strata"),
        )
    found = yield from together(
        *[marginal_steps(by_label[a["label"]], by_label[b["label"]], w=w, **kw) for a, b in steps]
    )
    return {b["label"]: got for (_, b), got in zip(steps, found, strict=True)}


marginals = driven(marginals_steps)
