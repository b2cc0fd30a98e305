"""Saturation curves over N with bootstrap CIs, and the saturation point.

Saturation point (robust definition): the smallest N such that the remaining gain, from N to
every larger N' up to the largest N measured (K), stays at most epsilon points:
max_{N' >= N} (curve(K) - curve(N')) <= epsilon. Under random tie-break maj@2 = maj@1, so the
"first doubling that gains less than epsilon" rule would stop at N = 1; its gains are still
reported (`doubling_gains`) with CIs.

`saturated` says whether the curve has actually levelled off inside the pool: false when the
saturation point is the pool size K (the last step still gained more than epsilon), or when
the upper CI bound of the remaining gain from the saturation point to K exceeds epsilon (or
is undefined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci
from tts_bench.analysis.curves import Pools
from tts_bench.analysis.figures import fnum, groups
from tts_bench.analysis.load import RunData
from tts_bench.analysis.setvote import MAX_SUBSETS
from tts_bench.analysis.stats import quantile

FALL_POINTS = 0.1  # a curve "falls" when it drops this many points below an earlier value


def _lst(x: np.ndarray) -> list[float | None]:
    return [fnum(v) for v in x]


def max_drop(y: np.ndarray) -> float:
    """Largest fall of a curve below its running maximum."""
    return float(np.max(np.maximum.accumulate(y) - y)) if y.size else 0.0


def saturation_point(y: np.ndarray, epsilon: float) -> int:
    """Smallest N (1-based) with max_{N' >= N} (y[K] - y[N']) <= epsilon (same units as y)."""
    rem = y[-1] - y
    worst_after = np.maximum.accumulate(rem[::-1])[::-1]
    return int(np.flatnonzero(worst_after <= epsilon + 1e-12)[0]) + 1


def saturation_block(
    data: RunData, pools: Pools, w: np.ndarray, epsilon: float, confidence: float
) -> dict[str, Any]:
    """The curves (mean and CI per k), the saturation point with its remaining gain's CI,
    the doubling gains, falls, and per-stratum curves. Accuracy in [0, 1], gains in points."""
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
    res = batch.run()
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

    y = np.nanmean(kinds[selector][m], axis=0)
    r = res[:, cols[selector]]
    sat = saturation_point(y, epsilon / 100)

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
    for col, val, gm in groups(data)[1:]:
        sm = m & gm
        if not sm.any():
            continue
        ys = {name: np.nanmean(v[sm], axis=0) for name, v in kinds.items()}
        by_stratum.setdefault(col, {})[val] = {
            "n_items": int(sm.sum()),
            **{name: _lst(v) for name, v in ys.items()},
            "max_drop_points": fnum(100 * max_drop(ys[selector])),
            "falls": bool(100 * max_drop(ys[selector]) >= FALL_POINTS),
        }
    rem = gain(sat, k)
    hi = rem["ci"][1]
    saturated = bool(sat < k and hi is not None and hi <= epsilon + 1e-9)
    return {
        "pool_size": k,
        "pool_sizes": list(pools.sizes),
        "n_items": int(m.sum()),
        "selector": selector,
        "ks": list(range(1, k + 1)),
        "curves": curves,
        "epsilon_points": epsilon,
        "saturation_point": sat,
        "saturated": saturated,
        "remaining_gain_points": {"value": rem["gain_points"], "ci": rem["ci"]},
        "doubling_gains": doubling,
        "first_doubling_below_epsilon": first_small,
        "peak_k": int(np.argmax(y)) + 1,
        "max_drop_points": fnum(drop),
        "falls": bool(drop >= FALL_POINTS),
        "by_stratum": by_stratum,
        "note": (
            f"pool sizes vary ({pools.sizes[0]}..{pools.sizes[1]}): curves use the first "
            f"{k} samples of every pool"
            if pools.sizes[0] != pools.sizes[1]
            else None
        ),
    }
