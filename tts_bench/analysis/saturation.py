"""Saturation curves over N with bootstrap CIs, the saturation point, and what the curve
supports saying: levels off, still rising, or falls.

Saturation point (design definition): the smallest N such that the remaining gain, from N to
every larger N' up to the largest N measured (K), stays at most epsilon points:
max_{N' >= N} (curve(K) - curve(N')) <= epsilon. Under random tie-break maj@2 = maj@1, so the
"first doubling that gains less than epsilon" rule would stop at N = 1; its gains are still
reported (`doubling_gains`) with CIs.

The point is chosen where the observed remaining gain is small, so the gain left there, read
on the same items, is biased low. The verdict is therefore cross-fitted (analysis/halves.py):
each half of the items picks its saturation point and the other half measures the gain left
after it; `saturation_point` is the later of the two picks and `remaining_gain_points` the
average of the two held-out measurements, with its CI. The curve **levels off**
(`saturated`) only when that CI's upper bound is within epsilon and the point lies inside the
pool; it is **still rising** when the CI lies above 0. A **fall** (the curve dropping below an
earlier value) is claimed only when its cross-fitted CI excludes 0: each half picks its
largest drop, the other half measures it. The same-items figures are kept, labelled
`in_sample`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci
from tts_bench.analysis.curves import Pools
from tts_bench.analysis.figures import fnum, groups
from tts_bench.analysis.halves import crossfit_steps, split_halves
from tts_bench.analysis.load import RunData
from tts_bench.analysis.setvote import MAX_SUBSETS
from tts_bench.analysis.stats import quantile
from tts_bench.analysis.steps import Step, driven, results, together


def _lst(x: np.ndarray) -> list[float | None]:
    return [fnum(v) for v in x]


def max_drop(y: np.ndarray) -> float:
    """Largest fall of a curve below its running maximum."""
    return float(np.max(np.maximum.accumulate(y) - y)) if y.size else 0.0


def drop_pair(y: np.ndarray) -> tuple[int, int]:
    """1-based (later N, earlier N) of the largest fall of a curve below its running maximum,
    as (a, b) with y[b] - y[a] the fall; (k, k) when the curve never falls."""
    if not y.size or not np.isfinite(y).all():
        return 1, 1
    k = int(np.argmax(np.maximum.accumulate(y) - y))
    j = int(np.argmax(y[: k + 1]))
    return k + 1, j + 1


def fall_pick(rows: np.ndarray) -> tuple[int, int]:
    """A half's pick of its largest fall, from its per-item rows (see `drop_pair`)."""
    return drop_pair(np.nanmean(rows, axis=0))


def saturation_point(y: np.ndarray, epsilon: float) -> int:
    """Smallest N (1-based) with max_{N' >= N} (y[K] - y[N']) <= epsilon (same units as y)."""
    rem = y[-1] - y
    worst_after = np.maximum.accumulate(rem[::-1])[::-1]
    hits = np.flatnonzero(worst_after <= epsilon + 1e-12)
    return int(hits[0]) + 1 if hits.size else y.size


def span_interval(
    y: np.ndarray, mask: np.ndarray, r: np.ndarray, a: int, b: int, confidence: float
) -> tuple[float | None, list[float | None]]:
    """Gain in points of the mean curve from N=a to N=b, over a span fixed in advance, with its
    CI: on each side the wider of the percentile bootstrap (r: resampled mean curves, as
    fractions) and the t interval on the per-item gains (y: per-item curves; mask: items)."""
    d = 100 * (y[mask, b - 1] - y[mask, a - 1])
    lo, hi = percentile_ci(100 * (r[:, b - 1] - r[:, a - 1]), confidence)
    value = fnum(d.mean()) if d.size else None
    if value is not None and lo is not None and hi is not None and d.size > 1:
        half = float(t_dist.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1)) / np.sqrt(d.size)
        lo, hi = min(lo, value - half), max(hi, value + half)
    return value, [lo, hi]


def confident_point(rows: np.ndarray, epsilon: float, z: float) -> int:
    """A half's pick: the smallest N whose remaining gain, to every larger N' up to K, has an
    upper bound (mean + z standard errors over the half's items) within epsilon; K when none.
    rows: (items, K) per-item curves (fractions); epsilon: fraction; z: the bound's width."""
    rows = rows[~np.isnan(rows).any(axis=1)]
    k = rows.shape[1]
    if rows.shape[0] < 2:
        return k
    d = rows[:, -1:] - rows
    upper = d.mean(axis=0) + z * d.std(axis=0, ddof=1) / np.sqrt(rows.shape[0])
    worst_after = np.maximum.accumulate(upper[::-1])[::-1]
    hits = np.flatnonzero(worst_after <= epsilon + 1e-12)
    return int(hits[0]) + 1 if hits.size else k


def _scaled(est: dict[str, Any] | None) -> tuple[float | None, list[float | None]]:
    """(value, [lo, hi]) of a cross-fitted estimate in points."""
    if est is None:
        return None, [None, None]
    lo, hi = est["ci"]
    return fnum(100 * est["value"]), [
        None if lo is None else fnum(100 * lo),
        None if hi is None else fnum(100 * hi),
    ]


def curve_verdict_steps(
    y: np.ndarray,
    halves: np.ndarray,
    w: np.ndarray,
    epsilon: float,
    confidence: float,
    span_ci: Any,
) -> Step[dict[str, Any]]:
    """The cross-fitted saturation point, remaining gain, fall and verdict of one per-item
    curve y (items, K; fractions). epsilon in points; halves from `split_halves`;
    span_ci(a, b) -> (gain points, [lo, hi]) on all items for a span fixed in advance (used
    when a half finds no saturation point inside the pool)."""
    k = y.shape[1]
    # a half picks where the whole set's bound would be within epsilon if the other half
    # looked the same: a half's standard error is sqrt(2) times the whole set's
    z = float(norm.ppf(0.5 + confidence / 2)) / np.sqrt(2)
    rem, fall = yield from together(
        crossfit_steps(
            y, halves, w, lambda r: (confident_point(r, epsilon / 100, z), k), confidence
        ),
        crossfit_steps(y, halves, w, fall_pick, confidence),
    )
    fall_value, fall_ci = _scaled(fall)
    out: dict[str, Any] = {
        "fall": {
            "value": fall_value,
            "ci": fall_ci,
            # (from N, to N) of the largest fall each half found, measured on the other half
            "pairs": None if fall is None else [[b, a] for a, b in fall["choices"]],
        },
        "falls": fall_ci[0] is not None and fall_ci[0] > 0,
    }
    if rem is None:  # too few items to split: nothing is claimed
        return {**out, "point": None, "points": None, "gain": None, "verdict": "unmeasured"}
    points = [c[0] for c in rem["choices"]]
    point = max(points)
    # the smallest N from which every item's curve is already at its value at K (maj@K equals
    # maj@(K-1) for even K): a point there claims nothing, there being nothing left to gain
    rows = y[halves >= 0]
    same = np.all(np.isclose(rows, rows[:, -1:]) | np.isnan(rows), axis=0)
    top = k - int(np.argmin(same[::-1])) + 1 if not same.all() else 1
    value, ci = _scaled(rem)
    # the figure averages the gains left after each half's pick: on a rising curve it is at
    # most the gain left after the earlier pick and at least that after the later one, so
    # "levels off" names the later pick and "still rising" counts from the earlier one
    gain = {"value": value, "ci": ci, "from": point, "to": k, "method": "cross-fitted halves"}
    if k < 2:  # a single N: no curve to judge
        return {**out, "point": point, "points": points, "gain": gain, "verdict": "unmeasured"}
    if point < top and ci[1] is not None and ci[1] <= epsilon + 1e-9:
        verdict = "levels_off"
    else:
        gain["from"] = min(points)
        if min(points) >= top:  # no pick inside the pool: the gain over its last half
            a = max(1, (top + 1) // 2)
            value, ci = span_ci(a, k)
            gain = {"value": value, "ci": ci, "from": a, "to": k, "method": "all items"}
        if ci[0] is None or ci[1] is None:
            verdict = "unmeasured"
        else:
            verdict = (
                "still_rising" if ci[0] > 0 else "may_still_rise" if ci[1] > 0 else "not_rising"
            )
    return {**out, "point": point, "points": points, "gain": gain, "verdict": verdict}


curve_verdict = driven(curve_verdict_steps)


def _halves(data: RunData, mask: np.ndarray) -> np.ndarray:
    """The seeded split of the pooled items (within the combined strata, whole clusters)."""
    cols = list(data.strata)
    labels = ["|".join(data.strata[c][i] for c in cols) for i in range(len(data.items))]
    return split_halves(mask, int(data.analysis.seed), labels if cols else None, data.clusters)


def saturation_block_steps(
    data: RunData, pools: Pools, w: np.ndarray, epsilon: float, confidence: float
) -> Step[dict[str, Any]]:
    """The curves (mean and CI per k), the cross-fitted saturation point and verdict, the
    same-items figures, the doubling gains, falls, and per-stratum curves. Accuracy in [0, 1],
    gains in points. A step: its curves, verdict and per-stratum falls in one round."""
    k = pools.k
    m = pools.mask
    kinds = {"majority": pools.majority, "pass_at_k": pools.pass_at_k}
    if pools.best_of_k is not None:
        kinds["best_of_k"] = pools.best_of_k
    if pools.set_vote is not None:
        kinds["set_vote"] = pools.set_vote
    selector = pools.selector if pools.selector in kinds else "majority"
    batch = MeanBatch(w)
    cols = {name: [batch.add(y[:, j] * m, m) for j in range(k)] for name, y in kinds.items()}
    sel_y = kinds[selector]

    def span(a: int, b: int) -> tuple[float | None, list[Any]]:
        return span_interval(sel_y, m, batch.run()[:, cols[selector]], a, b, confidence)

    halves = _halves(data, m)
    strata = [(col, val, m & gm) for col, val, gm in groups(data)[1:] if (m & gm).any()]
    res, v, *falls = yield from together(
        results(batch),
        curve_verdict_steps(sel_y, halves, w, epsilon, confidence, span),
        *[
            crossfit_steps(sel_y, np.where(sm, halves, -1), w, fall_pick, confidence)
            for _, _, sm in strata
        ],
    )
    curves: dict[str, Any] = {}
    for name, y in kinds.items():
        r = res[:, cols[name]]
        lo, hi = percentile_ci(r, confidence)
        curves[name] = {
            "mean": _lst(np.nanmean(y[m], axis=0)),
            "ci_low": _lst(lo),
            "ci_high": _lst(hi),
        }
    curves["cost_usd"] = None
    curves["cost_unknown_items"] = int(m.sum())
    if pools.cost is not None:  # mean over the items whose costs are all known
        known = m & ~np.isnan(pools.cost[:, 0])
        curves["cost_usd"] = _lst(pools.cost[known].mean(axis=0))
        curves["cost_unknown_items"] = int(m.sum() - known.sum())
    # latency: the mean over items whose latency is known; P95 only when every one is known
    lat = pools.latency[m]
    lat_known = ~np.isnan(lat[:, 0])
    curves["latency_s"] = _lst(lat[lat_known].mean(axis=0)) if lat_known.any() else [None] * k
    curves["latency_p95_s"] = [
        quantile(lat[:, j], 0.95) if lat_known.all() else None for j in range(k)
    ]
    curves["latency_unknown_items"] = int((~lat_known).sum())
    if pools.set_vote is not None:
        sampled = pools.sampled_ks or []
        curves["set_vote"]["sampled_ks"] = sampled
        curves["set_vote"]["note"] = (
            f"per-element vote; k = {', '.join(map(str, sampled))}: mean over "
            f"{MAX_SUBSETS} seeded random k-subsets per item (more than {MAX_SUBSETS} exist), "
            "other k exact over all k-subsets"
            if sampled
            else "per-element vote, exact over all k-subsets"
        )

    y = np.nanmean(sel_y[m], axis=0)
    r = res[:, cols[selector]]
    sat_in = saturation_point(y, epsilon / 100)

    def gain(a: int, b: int) -> dict[str, Any]:
        lo, hi = percentile_ci(100 * (r[:, b - 1] - r[:, a - 1]), confidence)
        return {
            "from": a,
            "to": b,
            "gain_points": fnum(100 * (y[b - 1] - y[a - 1])),
            "ci": [lo, hi],
        }

    doubling = []
    n = 1
    while 2 * n <= k:
        doubling.append(gain(n, 2 * n))
        n *= 2
    first_small = next((g["from"] for g in doubling if g["gain_points"] < epsilon), None)
    drop = 100 * max_drop(y)
    by_stratum: dict[str, dict[str, Any]] = {}
    for (col, val, sm), fall in zip(strata, falls, strict=True):
        ys = {name: np.nanmean(vals[sm], axis=0) for name, vals in kinds.items()}
        lo = None if fall is None else fall["ci"][0]
        by_stratum.setdefault(col, {})[val] = {
            "n_items": int(sm.sum()),
            **{name: _lst(vals) for name, vals in ys.items()},
            "max_drop_points": fnum(100 * max_drop(ys[selector])),
            "falls": bool(lo is not None and lo > 0),
        }
    rem_in = gain(sat_in, k)
    point = v["point"] if v["point"] is not None else sat_in
    g = v["gain"]
    return {
        "pool_size": k,
        "pool_sizes": list(pools.sizes),
        "n_items": int(m.sum()),
        "selector": selector,
        "ks": list(range(1, k + 1)),
        "curves": curves,
        "epsilon_points": epsilon,
        "saturation_point": point,
        "saturated": v["verdict"] == "levels_off",
        # levels_off | still_rising | may_still_rise | not_rising | unmeasured
        "verdict": v["verdict"],
        "remaining_gain_points": (
            {"value": None, "ci": [None, None], "from": None, "to": k} if g is None else g
        ),
        "selection": {
            "method": "cross-fitted halves: each half picks, the other measures",
            "seed": int(data.analysis.seed),
            "half_items": [int((halves == h).sum()) for h in (0, 1)],
            "points": v["points"],
        },
        "in_sample": {
            "saturation_point": sat_in,
            "remaining_gain_points": {"value": rem_in["gain_points"], "ci": rem_in["ci"]},
            "note": "picked and measured on the same items: the gain left reads low",
        },
        "doubling_gains": doubling,
        "first_doubling_below_epsilon": first_small,
        "peak_k": int(np.argmax(y)) + 1,
        "max_drop_points": fnum(drop),
        "falls": bool(v["falls"]),
        "fall_points": v["fall"],
        "by_stratum": by_stratum,
        "note": (
            f"pool sizes vary ({pools.sizes[0]}..{pools.sizes[1]}): curves use the first "
            f"{k} samples of every pool"
            if pools.sizes[0] != pools.sizes[1]
            else None
        ),
    }


saturation_block = driven(saturation_block_steps)
