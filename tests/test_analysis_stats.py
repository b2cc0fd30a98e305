"""Wilson, Tango, the design effect, McNemar, Holm, order-statistic quantile intervals, power
(normal and exact), and the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from tts_bench.analysis.bootstrap import (
    percentile_ci,
    weight_matrix,
    weighted_quantiles,
)
from tts_bench.analysis.power import exact_power, items_needed, mde
from tts_bench.analysis.stats import (
    design_effect,
    holm,
    mcnemar_exact,
    mean_interval,
    paired_interval,
    power,
    quantile,
    quantile_ci,
    tango,
    wilson,
)


def weighted_means(w: np.ndarray, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Reference resampled means, (W @ (x * mask)) / (W @ mask). x: (items,) or (items, cols);
    mask: same shape, False = excluded. Returns (resamples,) or (resamples, cols); NaN where a
    resample holds no included item."""
    xv = np.nan_to_num(np.asarray(x, dtype=float))
    m = np.ones_like(xv) if mask is None else np.asarray(mask, dtype=float)
    num = (w @ (xv * m).astype(w.dtype)).astype(float)
    den = (w @ m.astype(w.dtype)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def test_wilson_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    assert wilson(0, 0) is None


def test_mcnemar_and_holm() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 * 0.5**10)
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])


def test_quantile_ci_ranks() -> None:
    x = np.arange(1, 101, dtype=float)  # X_(i) = i
    assert quantile(x, 0.5) == 50.0
    assert quantile(x, 0.95) == 95.0
    lo, hi = quantile_ci(x, 0.5)
    assert (lo, hi) == (40.0, 61.0)  # the textbook ranks for n=100, 95%
    lo, hi = quantile_ci(x, 0.99)
    assert hi is None  # no finite upper bound for P99 from 100 items
    assert quantile_ci(x[:10], 0.95) == (8.0, None)


def test_quantile_ci_coverage() -> None:
    rng = np.random.default_rng(3)
    true = -np.log(1 - 0.95)  # P95 of Exp(1)
    hits = 0
    for _ in range(400):
        lo, hi = quantile_ci(rng.exponential(size=200), 0.95)
        hits += lo is not None and hi is not None and lo <= true <= hi
    assert hits / 400 >= 0.93


def test_power_matches_published_constant() -> None:
    d = np.array([1.0] * 10 + [-1.0] * 10 + [0.0] * 80)  # 20% discordant, no effect
    out = power(d, target_delta=0.125)
    var = d.var(ddof=1)
    assert out["n_for_target"] == pytest.approx(7.85 * var / 0.125**2, rel=0.01)
    assert out["mde"] == pytest.approx(np.sqrt(7.849 * var / 100), rel=1e-3)


@pytest.mark.parametrize(
    ("d", "why"),
    [
        (np.array([0.0, 0.0]), "2 paired"),  # the two-item import: sd 0 and n < 10
        (np.array([1.0, -1.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 1.0]), "9 paired"),
        (np.full(50, 100.0), "sd 0"),  # every item gains: nothing to size from
    ],
)
def test_power_is_null_when_it_cannot_size(d: np.ndarray, why: str) -> None:
    out = power(d, target_delta=5.0)
    assert out["mde"] is None and out["n_for_target"] is None
    assert out["note"].startswith("too few items to size") and why in out["note"]
    assert out["n"] == d.size


def test_power_sizes_from_ten_items() -> None:
    out = power(np.array([1.0, -1.0] * 5), target_delta=5.0)
    assert out["mde"] is not None and out["n_for_target"] is not None and out["note"] is None


def test_weight_matrix_strata_and_clusters() -> None:
    strata = ["e"] * 30 + ["h"] * 10
    w = weight_matrix(40, resamples=500, seed=1, strata=strata)
    assert w.shape == (500, 40)
    assert np.all(w[:, :30].sum(axis=1) == 30) and np.all(w[:, 30:].sum(axis=1) == 10)
    clusters = [i // 4 for i in range(40)]
    wc = weight_matrix(40, resamples=200, seed=1, strata=strata, clusters=clusters)
    assert np.all(wc[:, 0] == wc[:, 3])  # an item carries its cluster's count
    again = weight_matrix(40, resamples=500, seed=1, strata=strata)
    assert np.array_equal(w, again)


def test_weighted_quantiles_match_resampled_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.exponential(size=50)
    w = weight_matrix(50, resamples=20, seed=2)
    got = weighted_quantiles(w, x, [0.5, 0.95])
    for r in range(20):
        data = np.repeat(x, w[r].astype(int))
        assert got[r, 0] == np.quantile(data, 0.5, method="inverted_cdf")
        assert got[r, 1] == np.quantile(data, 0.95, method="inverted_cdf")


def test_paired_bootstrap_agrees_with_scipy() -> None:
    from scipy.stats import bootstrap

    rng = np.random.default_rng(11)
    n = 300
    a = (rng.random(n) < 0.6).astype(float)
    b = np.where(rng.random(n) < 0.7, a, (rng.random(n) < 0.75).astype(float))
    w = weight_matrix(n, resamples=10_000, seed=5)
    lo, hi = percentile_ci(weighted_means(w, b - a))
    ref = bootstrap(
        (b, a),
        lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        method="percentile",
        random_state=np.random.default_rng(6),
    ).confidence_interval
    # Monte-Carlo error of a 2.5% percentile endpoint at 10,000 resamples is ~0.002 here
    assert lo == pytest.approx(ref.low, abs=0.008)
    assert hi == pytest.approx(ref.high, abs=0.008)


# -- score intervals, design effect, exact power ---------------------------------------------
@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (49, 50), (98, 100), (500, 1000), (7, 7)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n, boundary=False) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_wilson_boundary_modification() -> None:
    from scipy.stats import binom, binomtest, chi2

    # 1..2 items on one side (n <= 50), 1..3 above: that side is the one-sided Poisson bound
    assert wilson(49, 50)[1] == pytest.approx(1 - chi2.ppf(0.025, 2) / 100)
    assert wilson(2, 80)[0] == pytest.approx(chi2.ppf(0.025, 4) / 160)
    ref = binomtest(40, 80).proportion_ci(method="wilson")  # elsewhere: plain Wilson
    assert wilson(40, 80) == pytest.approx((ref.low, ref.high), abs=1e-12)
    # exact coverage at a true 99% on 100 items: plain Wilson collapses, the modified holds
    cover = {}
    for flag in (False, True):
        iv = [wilson(k, 100, boundary=flag) for k in range(101)]
        cover[flag] = sum(
            binom.pmf(k, 100, 0.99) for k in range(101) if iv[k][0] <= 0.99 <= iv[k][1]
        )
    assert cover[False] < 0.93 and cover[True] > 0.94, cover


def _tango_score(b: float, c: float, n: float, d: float) -> float:
    """Tango's statistic at d with its nuisance parameter maximised numerically."""
    from scipy.optimize import minimize_scalar

    def nll(q: float) -> float:
        cells = (q + d, q, 1 - 2 * q - d)
        counts = (b, c, n - b - c)
        return -sum(k * np.log(max(p, 1e-300)) for k, p in zip(counts, cells, strict=True))

    lo, hi = max(0.0, -d) + 1e-12, (1 - d) / 2 - 1e-12
    q = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}).x
    return (b - c - n * d) / np.sqrt(n * (2 * q + d * (1 - d)))


@pytest.mark.parametrize(("b", "c", "n"), [(10, 4, 50), (3, 0, 100), (30, 25, 60), (7.5, 2.5, 40)])
def test_tango_limits_solve_the_score_equation(b: float, c: float, n: float) -> None:
    lo, hi = tango(b, c, n)
    assert _tango_score(b, c, n, float(lo)) == pytest.approx(1.959964, abs=1e-5)
    assert _tango_score(b, c, n, float(hi)) == pytest.approx(-1.959964, abs=1e-5)


def test_tango_edges() -> None:
    z2 = 1.959963984540054**2
    lo, hi = tango(0, 0, 50)  # no discordant pair: symmetric, like Wilson at 0 successes
    assert (lo, hi) == pytest.approx((-z2 / (50 + z2), z2 / (50 + z2)), abs=1e-9)
    lo, hi = tango(50, 0, 50)  # every item gains: the upper limit is 1
    assert hi == pytest.approx(1.0) and 0.85 < lo < 0.9
    lo, hi = tango(np.array([10, 3]), np.array([4, 5]), np.array([50, 0]))
    assert np.isnan(lo[1]) and np.isnan(hi[1]) and lo[0] < 0.12 < hi[0]


def test_paired_interval_binary_is_tango_and_f1_is_scaled() -> None:
    d = np.r_[np.ones(12), -np.ones(5), np.zeros(33)]
    lo, hi, how = paired_interval(d)
    assert how == "tango" and (lo, hi) == pytest.approx(tuple(map(float, tango(12, 5, 50))))
    half = d / 2  # every difference half a point: the same interval, halved
    lo2, hi2, how2 = paired_interval(half)
    assert how2 == "tango_scaled" and (lo2, hi2) == pytest.approx((lo / 2, hi / 2))
    assert paired_interval(np.array([]))[:2] == (None, None)


def test_design_effect_of_clusters() -> None:
    d = np.repeat([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0], 5)  # 8 clusters of 5 equal items
    clusters = np.repeat(np.arange(8), 5).tolist()
    # cluster-robust variance over the iid one, by hand
    g, n = 8, d.size
    resid = np.array([(d[i * 5 : i * 5 + 5] - d.mean()).sum() for i in range(g)])
    want = (g / (g - 1) * (resid**2).sum() / n**2) / (d.var(ddof=1) / n)
    assert design_effect(d, clusters) == pytest.approx(want)
    assert want > 4  # items of a cluster agree: about the cluster size
    assert design_effect(d, None) == 1.0
    assert design_effect(d, list(range(n))) == 1.0  # singleton clusters: no inflation
    lo, hi, how = mean_interval(d, clusters)
    plain = wilson(d.sum(), n)
    assert how == "wilson_design_effect" and hi - lo > 1.8 * (plain[1] - plain[0])


def _power_by_enumeration(n: int, p10: float, p01: float, alpha: float = 0.05) -> float:
    """Exact power by summing the trinomial over every (config-only, baseline-only) count."""
    from scipy.stats import multinomial

    total = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if mcnemar_exact(b, c) < alpha:
                total += multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - p10 - p01])
    return total


@pytest.mark.parametrize(("n", "p10", "p01"), [(30, 0.2, 0.05), (40, 0.1, 0.1), (25, 0.3, 0.0)])
def test_exact_power_matches_enumeration(n: int, p10: float, p01: float) -> None:
    assert exact_power(n, p10, p01) == pytest.approx(_power_by_enumeration(n, p10, p01), abs=1e-9)


def test_mde_and_items_needed_reach_the_power_exactly() -> None:
    psi = 0.25
    m = mde(150, psi)
    assert exact_power(150, (psi + m) / 2, (psi - m) / 2) == pytest.approx(0.8, abs=1e-6)
    n = items_needed(0.08, psi)
    p10, p01 = (psi + 0.08) / 2, (psi - 0.08) / 2
    assert exact_power(n, p10, p01) >= 0.8 > exact_power(n - 1, p10, p01)
    assert mde(150, 0.0) is None and items_needed(0.0, psi) is None
    assert mde(8, 0.05) is None  # 8 items that rarely differ: nothing reaches 80%
