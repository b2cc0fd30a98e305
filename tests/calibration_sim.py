"""Calibration harness: data with a known truth, the package's own interval code, coverage.

Each `cover_*` function draws `reps` data sets from a scenario, computes the interval the
analysis prints with the package's functions, and returns (coverage, mean width). Used at a
reduced repetition count by tests/test_calibration_intervals.py and at the full count by
benchmarks/coverage_intervals.py (the table in docs/analysis.md).

Scenarios: n paired items, the baseline's and the config's true accuracy, the phi correlation
of their outcomes on an item (LLM configs on the same items agree far more than chance:
0.3-0.6), and optionally two strata of equal, fixed size whose accuracies differ (a stratified
sample: the analysis resamples within strata; the score intervals ignore them, which only
makes them conservative). Seeds are fixed: a run is reproducible.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from tts_bench.analysis.bootstrap import (
    MeanBatch,
    percentile_ci,
    ratio_studentized_ci,
    studentized_ci,
    weight_matrix,
    weighted_quantiles,
)
from tts_bench.analysis.deltas import holm_families
from tts_bench.analysis.stats import (
    mcnemar_exact,
    mean_interval,
    paired_interval,
    quantile_ci,
    tango,
    wilson,
)


@dataclass(frozen=True)
class Paired:
    """A paired binary scenario: n items, true accuracies, phi correlation, strata or not."""

    n: int
    p_base: float
    p_config: float
    rho: float = 0.5
    strata: bool = False

    @property
    def delta(self) -> float:
        return self.p_config - self.p_base

    def spread(self) -> float:
        """Half the accuracy gap between the two strata (0 without strata)."""
        if not self.strata:
            return 0.0
        lo = min(self.p_base, self.p_config)
        hi = max(self.p_base, self.p_config)
        return min(0.2, 0.9 * (1 - hi), 0.9 * lo)


def cells(p_base: float, p_config: float, rho: float) -> np.ndarray:
    """[P(both wrong), P(config only), P(baseline only), P(both right)] with the given
    marginals and phi correlation (clipped to the feasible range)."""
    sd = math.sqrt(p_base * (1 - p_base) * p_config * (1 - p_config))
    p11 = p_base * p_config + rho * sd
    p11 = min(max(p11, max(0.0, p_base + p_config - 1)), min(p_base, p_config))
    c_only, b_only = p_config - p11, p_base - p11
    return np.array([1 - p11 - c_only - b_only, c_only, b_only, p11])


def draw_paired(rng: np.random.Generator, sc: Paired, reps: int) -> tuple[np.ndarray, list[str]]:
    """(reps, n) cell codes 0..3 (as in `cells`) and the items' stratum labels."""
    h = sc.spread()
    if not sc.strata:
        return rng.choice(4, size=(reps, sc.n), p=cells(sc.p_base, sc.p_config, sc.rho)), [
            "all"
        ] * sc.n
    half = sc.n // 2
    parts, labels = [], []
    for name, size, shift in (("easy", sc.n - half, h), ("hard", half, -h)):
        p = cells(sc.p_base + shift, sc.p_config + shift, sc.rho)
        parts.append(rng.choice(4, size=(reps, size), p=p))
        labels += [name] * size
    return np.concatenate(parts, axis=1), labels


def truth_delta(sc: Paired) -> float:
    """The delta of the design (fixed stratum sizes): the size-weighted mean of the strata's
    deltas, which equals p_config - p_base here."""
    return sc.delta


# -- interval adaptors: the package's code on one data set ----------------------------------
def _boot_delta(d: np.ndarray, strata: list[str], seed: int, resamples: int) -> np.ndarray:
    w = weight_matrix(d.size, resamples=resamples, seed=seed, strata=strata)
    batch = MeanBatch(w)
    ones = np.ones_like(d)
    batch.add(d, ones)
    batch.add(d * d, ones)
    return batch.run()


def cover_delta(
    sc: Paired, method: str, reps: int, seed: int = 0, resamples: int = 2000
) -> tuple[float, float]:
    """Coverage and mean width (points) of the paired accuracy delta's interval. method:
    "tango" (the analysis' interval for 0/1 scores), "percentile" or "studentized" bootstrap
    (stratified resampling), "newcombe" (Newcombe's method 10, for comparison)."""
    rng = np.random.default_rng(seed)
    codes, strata = draw_paired(rng, sc, reps)
    b = (codes == 1).sum(axis=1)
    c = (codes == 2).sum(axis=1)
    truth = truth_delta(sc)
    if method in ("tango", "newcombe"):
        if method == "tango":
            lo, hi = tango(b, c, sc.n)
        else:
            lo, hi = newcombe_paired(codes)
    else:
        lo, hi = np.empty(reps), np.empty(reps)
        for r in range(reps):
            d = np.select([codes[r] == 1, codes[r] == 2], [1.0, -1.0], 0.0)
            res = _boot_delta(d, strata if sc.strata else None, r, resamples)
            if method == "percentile":
                lo[r], hi[r] = percentile_ci(res[:, 0])
            else:
                m, s = d.mean(), (d * d).mean()
                l2, h2 = studentized_ci(res[:, :1], res[:, 1:], [m], [s], [d.size])
                lo[r], hi[r] = l2[0], h2[0]
    hit = (lo <= truth + 1e-12) & (truth - 1e-12 <= hi)
    return float(hit.mean()), float(100 * np.nanmean(hi - lo))


def newcombe_paired(codes: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's (1998) method 10 for a paired difference (config − baseline), from Wilson
    intervals of both marginals and the phi correlation (a comparison candidate only)."""
    n = codes.shape[1]
    e = (codes == 3).sum(axis=1)  # both right
    f = (codes == 1).sum(axis=1)  # config only
    g = (codes == 2).sum(axis=1)  # baseline only
    h = (codes == 0).sum(axis=1)
    p1, p2 = (e + f) / n, (e + g) / n
    lo, hi = np.empty(len(e)), np.empty(len(e))
    for i in range(len(e)):
        l1, u1 = wilson(e[i] + f[i], n, confidence)
        l2, u2 = wilson(e[i] + g[i], n, confidence)
        num = e[i] * h[i] - f[i] * g[i]
        den = (e[i] + f[i]) * (g[i] + h[i]) * (e[i] + g[i]) * (f[i] + h[i])
        num = max(num - n / 2, 0) if num > 0 else num
        phi = num / math.sqrt(den) if den > 0 else 0.0
        d = p1[i] - p2[i]
        dl1, du1, dl2, du2 = p1[i] - l1, u1 - p1[i], p2[i] - l2, u2 - p2[i]
        lo[i] = d - math.sqrt(max(dl1**2 - 2 * phi * dl1 * du2 + du2**2, 0))
        hi[i] = d + math.sqrt(max(du1**2 - 2 * phi * du1 * dl2 + dl2**2, 0))
    return lo, hi


def cover_accuracy(
    n: int, p: float, method: str, reps: int, seed: int = 0, strata: bool = False
) -> tuple[float, float]:
    """Coverage and mean width (points) of one config's accuracy interval: "wilson" (the
    analysis') or "percentile" bootstrap (the former rule from 100 items on)."""
    sc = Paired(n, p, p, 0.0, strata)
    rng = np.random.default_rng(seed)
    codes, labels = draw_paired(rng, sc, reps)
    x = ((codes == 2) | (codes == 3)).astype(float)  # the "baseline" column has accuracy p
    lo, hi = np.empty(reps), np.empty(reps)
    for r in range(reps):
        if method == "wilson":
            lo[r], hi[r] = wilson(x[r].sum(), n)
        else:
            w = weight_matrix(n, resamples=2000, seed=r, strata=labels if strata else None)
            batch = MeanBatch(w)
            batch.add(x[r], np.ones(n))
            lo[r], hi[r] = percentile_ci(batch.run()[:, 0])
    hit = (lo <= p + 1e-12) & (p - 1e-12 <= hi)
    return float(hit.mean()), float(100 * np.mean(hi - lo))


# -- clustered items: the design effect -----------------------------------------------------
def cover_clustered(
    clusters: int,
    size: int,
    figure: str,
    reps: int,
    seed: int = 0,
    adjust: bool = True,
    p_base: float = 0.7,
    p_config: float = 0.75,
    spread: float = 0.2,
) -> tuple[float, float]:
    """Coverage and mean width (points) when items come in `clusters` groups of `size` that
    share a difficulty (each cluster's accuracies shifted by a uniform draw in +-spread, the
    same for both configs): "accuracy" (the config's, Wilson) or "delta" (Tango), with the
    design effect (`adjust`, the analysis') or without it (for contrast)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(clusters), size).tolist()
    truth = p_config if figure == "accuracy" else p_config - p_base
    hits, widths = [], []
    for _ in range(reps):
        shifts = rng.uniform(-spread, spread, clusters)
        codes = np.concatenate(
            [rng.choice(4, size=size, p=cells(p_base + h, p_config + h, 0.3)) for h in shifts]
        )
        groups = labels if adjust else None
        if figure == "accuracy":
            lo, hi, _ = mean_interval(((codes == 1) | (codes == 3)).astype(float), groups)
        else:
            d = np.select([codes == 1, codes == 2], [1.0, -1.0], 0.0)
            lo, hi, _ = paired_interval(d, groups)
        hits.append(lo <= truth <= hi)
        widths.append(100 * (hi - lo))
    return float(np.mean(hits)), float(np.mean(widths))


# -- continuous figures: F1 deltas, cost ratio, latency -------------------------------------
F1_LEVELS = np.array([0.0, 0.5, 2 / 3, 0.8, 1.0])


def draw_f1(
    rng: np.random.Generator, n: int, shift: float, level: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item F1 of a baseline and a config: a shared item difficulty u (mean `level`:
    0 gives a mean F1 near 0.57, 2.0 near 0.95, 2.5 near 0.98), each config's F1 a level of
    F1_LEVELS picked by u plus its own noise (the config `shift` better)."""
    u = rng.normal(size=n) + level
    base = u + rng.normal(scale=0.8, size=n)
    conf = u + shift + rng.normal(scale=0.8, size=n)
    cuts = np.array([-0.6, -0.2, 0.1, 0.4])
    return F1_LEVELS[np.searchsorted(cuts, base)], F1_LEVELS[np.searchsorted(cuts, conf)]


@functools.lru_cache(maxsize=16)
def truth_f1(shift: float, level: float) -> tuple[float, float]:
    """(E[F1 baseline], E[F1 config − F1 baseline]) from 4 million draws (error ~2e-4)."""
    a, b = draw_f1(np.random.default_rng(12345), 4_000_000, shift, level)
    return float(a.mean()), float((b - a).mean())


def _mean_ci(x: np.ndarray, method: str, seed: int) -> tuple[float, float]:
    """A mean's interval: the analysis' score interval ("tango_scaled" for differences,
    "wilson" for scores) or a bootstrap of the mean ("percentile", "studentized")."""
    if method == "tango_scaled":
        lo, hi, _ = paired_interval(x)
        return float(lo), float(hi)  # type: ignore[arg-type]
    if method == "wilson":
        lo, hi, _ = mean_interval(x)
        return float(lo), float(hi)  # type: ignore[arg-type]
    res = _boot_delta(x, None, seed, 2000)
    if method == "percentile":
        return percentile_ci(res[:, 0])  # type: ignore[return-value]
    lo_a, hi_a = studentized_ci(res[:, :1], res[:, 1:], [x.mean()], [(x * x).mean()], [x.size])
    return float(lo_a[0]), float(hi_a[0])


def cover_f1(
    n: int, figure: str, method: str, reps: int, seed: int = 0, level: float = 0.0
) -> tuple[float, float]:
    """Coverage and mean width (points) of an F1 figure: "delta" (config − baseline, the
    config 0.3 difficulty units better; the analysis' method "tango_scaled") or "mean" (the
    baseline's mean F1; the analysis' method "wilson"), or a bootstrap for contrast."""
    base_truth, delta_truth = truth_f1(0.3, level)
    truth = delta_truth if figure == "delta" else base_truth
    rng = np.random.default_rng(seed)
    hits, widths = [], []
    for r in range(reps):
        a, b = draw_f1(rng, n, 0.3, level)
        lo, hi = _mean_ci(b - a if figure == "delta" else a, method, r)
        hits.append(lo <= truth <= hi)
        widths.append(100 * (hi - lo))
    return float(np.mean(hits)), float(np.nanmean(widths))


@dataclass(frozen=True)
class Timing:
    """Lognormal per-item costs or latencies of a baseline and a config: log-scale means,
    sds and the correlation of the two on an item."""

    mu_base: float = 0.0
    mu_config: float = 0.7
    sd_base: float = 0.5
    sd_config: float = 0.7
    rho: float = 0.6

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        z1, z2 = rng.normal(size=(2, n))
        base = np.exp(self.mu_base + self.sd_base * z1)
        conf = np.exp(
            self.mu_config + self.sd_config * (self.rho * z1 + math.sqrt(1 - self.rho**2) * z2)
        )
        return base, conf

    def mean_ratio(self) -> float:
        return math.exp(self.mu_config + self.sd_config**2 / 2 - self.mu_base - self.sd_base**2 / 2)

    def quantile(self, q: float, config: bool) -> float:
        from scipy.special import ndtri

        mu, sd = (self.mu_config, self.sd_config) if config else (self.mu_base, self.sd_base)
        return math.exp(mu + sd * float(ndtri(q)))

    def quantile_ratio(self, q: float) -> float:
        return self.quantile(q, True) / self.quantile(q, False)


def cost_ratio_ci(
    base: np.ndarray, conf: np.ndarray, seed: int, method: str = "studentized"
) -> tuple[float, float]:
    """The cost-ratio interval from resampled means: "studentized" (log scale, the
    analysis') or "percentile" (of the ratio of resampled means)."""
    w = weight_matrix(base.size, resamples=2000, seed=seed)
    batch = MeanBatch(w)
    ones = np.ones_like(base)
    for col in (conf, base, conf * conf, base * base, conf * base):
        batch.add(col, ones)
    res = batch.run()
    if method == "percentile":
        return percentile_ci(res[:, 0] / res[:, 1])
    point = np.array([c.mean() for c in (conf, base, conf * conf, base * base, conf * base)])
    lo, hi = ratio_studentized_ci(res[:, :, None], point[:, None], np.array([base.size]))
    return float(lo[0]), float(hi[0])


def latency_ratio_ci(base: np.ndarray, conf: np.ndarray, q: float, seed: int) -> tuple:
    """The analysis' latency-ratio interval: ratio of resampled order statistics, percentile."""
    w = weight_matrix(base.size, resamples=2000, seed=seed)
    ratio = weighted_quantiles(w, conf, [q])[:, 0] / weighted_quantiles(w, base, [q])[:, 0]
    return percentile_ci(ratio)


def cover_timing(
    n: int, figure: str, reps: int, seed: int = 0, t: Timing | None = None, method: str = ""
) -> tuple[float, float]:
    """Coverage of "cost_ratio" (method "studentized" or "percentile"), "p50_ratio",
    "p95_ratio" (paired percentile bootstrap) or "p95" (the order-statistic interval of one
    config's P95: a missing upper side is the bound +inf, as the report prints "≥ lo"); mean
    width in the figure's unit over the intervals with both sides."""
    t = t or Timing()
    rng = np.random.default_rng(seed)
    hits, widths = [], []
    for r in range(reps):
        base, conf = t.draw(rng, n)
        if figure == "cost_ratio":
            truth = t.mean_ratio()
            lo, hi = cost_ratio_ci(base, conf, r, method or "studentized")
        elif figure == "p95":
            truth, (lo, hi) = t.quantile(0.95, True), quantile_ci(conf, 0.95)
            lo = -math.inf if lo is None else lo
            hi = math.inf if hi is None else hi
        else:
            q = 0.5 if figure == "p50_ratio" else 0.95
            truth, (lo, hi) = t.quantile_ratio(q), latency_ratio_ci(base, conf, q, r)
        ok = lo is not None and hi is not None
        hits.append(ok and lo <= truth <= hi)
        if ok and math.isfinite(hi - lo):
            widths.append(hi - lo)
    return float(np.mean(hits)), float(np.mean(widths)) if widths else math.nan


# -- multiplicity: the strata table under a global null --------------------------------------
def strata_table_fwer(
    n_per_stratum: int,
    configs: int,
    strata: int,
    reps: int,
    seed: int = 0,
    family: str = "table",
    p: float = 0.7,
    rho: float = 0.5,
) -> float:
    """Share of runs in which at least one cell of the strata table (config × stratum value)
    is starred when every config truly equals the baseline in every stratum. family "table":
    the analysis' Holm over every config × stratum cell; "stratum": Holm within each stratum
    value only (the former rule)."""
    from tts_bench.analysis.stats import holm

    rng = np.random.default_rng(seed)
    probs = cells(p, p, rho)
    any_star = 0
    for _ in range(reps):
        pv: dict[tuple[int, int], float] = {}
        for k in range(configs):
            for s in range(strata):
                b, c = rng.multinomial(n_per_stratum, probs)[1:3]
                pv[(k, s)] = mcnemar_exact(int(b), int(c))
        if family == "table":
            stars = holm_families({"strata": list(pv.values())})["strata"]
            hit = any(q is not None and q < 0.05 for q in stars)
        else:
            hit = False
            for s in range(strata):
                adj = holm([pv[(k, s)] for k in range(configs)])
                hit |= any(q is not None and q < 0.05 for q in adj)
        any_star += hit
    return any_star / reps
