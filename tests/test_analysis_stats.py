"""Wilson, McNemar, Holm, order-statistic quantile intervals, power, and the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from tts_bench.analysis.bootstrap import (
    percentile_ci,
    weight_matrix,
    weighted_quantiles,
)
from tts_bench.analysis.stats import holm, mcnemar_exact, power, quantile, quantile_ci, wilson


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
