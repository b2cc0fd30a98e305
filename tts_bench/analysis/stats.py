"""Small-sample statistics: Wilson interval, Tango's paired score interval, the design effect
of clustered items, exact McNemar, Holm, distribution-free quantile intervals from order
statistics, and the normal-approximation power analysis of a continuous paired delta (the
exact McNemar power is in `analysis.power`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _z(p: float) -> float:
    """Standard normal quantile (scipy.special, not scipy.stats: the latter is slow to import)."""
    from scipy.special import ndtri

    return float(ndtri(p))


def _binom_cdf(n: int, q: float) -> np.ndarray:
    """P(B <= m) for m = 0..n, B ~ Bin(n, q)."""
    from scipy.special import bdtr

    return np.asarray(bdtr(np.arange(n + 1), n, q), dtype=float)


def wilson(
    successes: float, n: float, confidence: float = 0.95, *, boundary: bool = True
) -> tuple[float, float] | None:
    """Wilson score interval for a proportion (None when n == 0); n may be an effective,
    non-integer count.

    boundary: Brown, Cai & DasGupta's (2001) modification. Wilson's coverage collapses (to
    84% at 95%) when 1 to 3 of the n items fall on one side — an accuracy near 98% on 50-100
    items; there the bound on that side is the one-sided Poisson bound instead,
    chi2_{alpha/2}(2x) / (2n), x the count on that side (up to 2 for n <= 50, 3 above)."""
    if n <= 0:
        return None
    z = _z(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    if boundary:
        from scipy.special import gammaincinv

        top = 2 if n <= 50 else 3
        alpha = 1 - confidence
        failures = n - successes
        if 0 < successes <= top:  # chi2 quantile(q, 2x) / 2 = gammaincinv(x, q)
            lo = float(gammaincinv(successes, alpha / 2)) / n
        if 0 < failures <= top:
            hi = 1 - float(gammaincinv(failures, alpha / 2)) / n
    return lo, hi


def tango(
    config_only: np.ndarray | float,
    baseline_only: np.ndarray | float,
    n: np.ndarray | float,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Tango's (1998) score interval for a paired difference of proportions, (b - c) / n as a
    fraction, from the discordant counts b (right only under the config), c (right only under
    the baseline) and the paired count n: the set of deltas D whose score statistic
    (b - c - nD) / sqrt(n (2 q(D) + D (1 - D))) lies within +-z, q(D) the maximum-likelihood
    P(baseline only) under D. Counts may be arrays (one interval each) and non-integer (an
    effective count under a design effect). n = 0 gives NaN."""
    b, c, m = (
        np.asarray(x, dtype=float) for x in np.broadcast_arrays(config_only, baseline_only, n)
    )
    z = _z(0.5 + confidence / 2)
    safe = np.where(m > 0, m, 1.0)

    def score(d: np.ndarray) -> np.ndarray:
        # restricted MLE of q = P(baseline only) given d: root of 2n q^2 + B q + C = 0
        big_b = -b - c + (2 * safe - b + c) * d
        big_c = -c * d * (1 - d)
        q = (np.sqrt(np.maximum(big_b**2 - 8 * safe * big_c, 0.0)) - big_b) / (4 * safe)
        var = np.maximum(safe * (2 * q + d * (1 - d)), 1e-300)
        return (b - c - safe * d) / np.sqrt(var)

    ends = []
    for target in (z, -z):  # the score falls with d: lower limit at +z, upper at -z
        lo, hi = np.full(b.shape, -1.0), np.full(b.shape, 1.0)
        for _ in range(60):  # bisection to ~1e-18: the score is monotone in d
            mid = (lo + hi) / 2
            above = score(mid) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        ends.append(np.where(m > 0, (lo + hi) / 2, np.nan))
    return ends[0], ends[1]


def paired_interval(
    d: np.ndarray, clusters: Sequence[object] | None = None, confidence: float = 0.95
) -> tuple[float | None, float | None, str]:
    """(lo, hi, method) of the mean of paired differences d in [-1, 1] (config − baseline),
    as fractions. 0/1 scores (d in {-1, 0, 1}): Tango's score interval from the discordant
    counts. Fractional scores (F1): Tango's interval on d / s, s = sum d^2 / sum |d| (the
    typical size of a difference; s = 1 for 0/1 scores), scaled back by s. With clusters,
    every count is divided by the design effect first (effective counts). n = 0: Nones."""
    arr = np.asarray(d, dtype=float)
    if arr.size == 0:
        return None, None, "tango"
    deff = design_effect(arr, clusters)
    total = float(np.abs(arr).sum())
    s = float((arr * arr).sum()) / total if total > 0 else 1.0
    scaled = abs(s - 1.0) > 1e-12
    b = float(np.clip(arr, 0, None).sum()) / (s * deff)
    c = float(np.clip(-arr, 0, None).sum()) / (s * deff)
    lo, hi = tango(b, c, arr.size / deff, confidence)
    method = "tango" + ("_scaled" if scaled else "") + ("_design_effect" if deff > 1 else "")
    return float(lo) * s, float(hi) * s, method


def mean_interval(
    x: np.ndarray, clusters: Sequence[object] | None = None, confidence: float = 0.95
) -> tuple[float | None, float | None, str]:
    """(lo, hi, method) of the mean of scores x in [0, 1]: Wilson on the summed scores (for
    F1 a fractional count: conservative, as a [0, 1] score's variance is at most mu (1 −
    mu)); with clusters on effective counts (divided by the design effect). n = 0: Nones."""
    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        return None, None, "wilson"
    deff = design_effect(arr, clusters)
    ci = wilson(float(arr.sum()) / deff, arr.size / deff, confidence)
    method = "wilson" + ("_design_effect" if deff > 1 else "")
    return (ci[0], ci[1], method) if ci else (None, None, method)


def design_effect(d: np.ndarray, clusters: Sequence[object] | None) -> float:
    """Variance inflation of the mean of d when items share a cluster: the cluster-robust
    variance of the mean over the independent-items one (at least 1; 1 without clusters or
    when d does not vary). Dividing every count by it gives the effective counts a score
    interval takes."""
    arr = np.asarray(d, dtype=float)
    n = arr.size
    if clusters is None or n < 2:
        return 1.0
    codes: dict[object, int] = {}
    idx = np.array([codes.setdefault(k, len(codes)) for k in clusters])
    g = len(codes)
    var_iid = float(arr.var(ddof=1)) / n
    if g < 2 or var_iid <= 0:
        return 1.0
    resid = np.bincount(idx, weights=arr - arr.mean(), minlength=g)
    var_cl = g / (g - 1) * float(np.sum(resid**2)) / n**2
    return max(1.0, var_cl / var_iid)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (items right only under A,
    only under B): a binomial test of a_only out of a_only + b_only at p = 1/2."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    # at p = 1/2 the two-sided exact p (scipy.stats.binomtest) is twice the smaller tail
    return float(min(1.0, 2 * _binom_cdf(n, 0.5)[min(a_only, b_only)]))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None entries are skipped and stay None)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    ps = np.array([pvalues[i] for i in idx], dtype=float)
    out: list[float | None] = [None] * len(pvalues)
    if not idx:
        return out
    order = np.argsort(ps, kind="stable")
    m = len(ps)
    running = 0.0
    for rank, o in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[o]))
        out[idx[o]] = running
    return out


def quantile(x: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The q-quantile as an order statistic: the smallest value with at least a share q of
    the data at or below it (numpy method="inverted_cdf")."""
    arr = np.asarray(x, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return None
    return float(np.quantile(arr, q, method="inverted_cdf"))


def quantile_ci(
    x: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Distribution-free interval for the q-quantile from order statistics: with B ~ Bin(n, q)
    the number of observations below the true quantile, X_(l) <= xi_q <= X_(u) holds with
    probability >= confidence. A side is None when n is too small for a finite bound."""
    arr = np.sort(np.asarray(x, dtype=float))
    arr = arr[~np.isnan(arr)]
    n = arr.size
    if n == 0:
        return None, None
    alpha = 1 - confidence
    cdf = _binom_cdf(n, q)
    # X_(l) > xi iff B <= l-1: take the largest l with P(B <= l-1) <= alpha/2 (l = 0: none)
    lo_rank = int(np.searchsorted(cdf, alpha / 2, side="right"))
    # X_(u) < xi iff B >= u: take the smallest u with P(B >= u) <= alpha/2, i.e.
    # u - 1 = the smallest m with P(B <= m) >= 1 - alpha/2 (u = n + 1: none)
    hi_rank = int(np.searchsorted(cdf, 1 - alpha / 2 - 1e-12, side="left")) + 1
    lo = float(arr[lo_rank - 1]) if lo_rank >= 1 else None
    hi = float(arr[hi_rank - 1]) if hi_rank <= n else None
    return lo, hi


MIN_POWER_ITEMS = 10  # below this many paired items the sd of d is too unstable to size on


def power(
    d: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    power_: float = 0.8,
    target_delta: float | None = None,
) -> dict[str, float | int | str | None]:
    """Power analysis of a paired difference from its per-item values d_i (same units out).

    mde: the minimum detectable effect at the current n, (z_{1-alpha/2} + z_power) sd(d)/sqrt(n);
    n_for_target: items needed to detect `target_delta`, (z_a + z_b)^2 Var(d) / delta^2
    (about 7.85 Var(d) / delta^2 at alpha 0.05 and 80% power). Both are None (and `note`
    says why) below MIN_POWER_ITEMS items or when sd(d) = 0: an sd estimated from a handful
    of items, or no observed disagreement at all, cannot size anything (the formula would
    claim a detectable effect of 0)."""
    arr = np.asarray(d, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    factor = _z(1 - alpha / 2) + _z(power_)
    var = float(arr.var(ddof=1)) if n > 1 else None
    note = None
    if n < MIN_POWER_ITEMS:
        note = f"too few items to size ({n} paired, fewer than {MIN_POWER_ITEMS})"
    elif not var:
        note = "too few items to size (the paired differences do not vary: sd 0)"
    usable = note is None and var is not None
    out: dict[str, float | int | str | None] = {
        "n": n,
        "alpha": alpha,
        "power": power_,
        "sd_d": math.sqrt(var) if var is not None else None,
        "mde": factor * math.sqrt(var / n) if usable and var is not None else None,
        "target_delta": target_delta,
        "n_for_target": None,
        "note": note,
    }
    if usable and var is not None and target_delta:
        out["n_for_target"] = int(math.ceil(factor**2 * var / target_delta**2))
    return out
