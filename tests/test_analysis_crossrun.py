"""The paired delta of one config between two runs (analysis/crossrun.py): the delta's CI
against Tango's score equation solved numerically, the bootstrap CIs against an explicit
resample-by-resample computation, every figure against a brute-force pairing of a small
example, the latency and test rules, strata, and the gate / compare wrappers reading the
same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tts_bench.analysis.bootstrap import percentile_ci, weight_matrix
from tts_bench.analysis.crossrun import paired_arrays, paired_delta, scorer_value, strata_labels

NAN = np.full(150, np.nan)


def _scipy_ci(x: np.ndarray, y: np.ndarray, stat, seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap

    ref = bootstrap(
        (x, y),
        stat,
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        method="percentile",
        random_state=seed,
    )
    return ref.confidence_interval.low, ref.confidence_interval.high


def tango_score(b: int, c: int, n: int, d: float) -> float:
    """Tango's score statistic at delta d, its nuisance parameter maximised numerically."""
    from scipy.optimize import minimize_scalar

    def nll(q: float) -> float:
        cells = (q + d, q, 1 - 2 * q - d)
        return -sum(
            k * math.log(max(p, 1e-300)) for k, p in zip((b, c, n - b - c), cells, strict=True)
        )

    q = minimize_scalar(
        nll,
        bounds=(max(0.0, -d) + 1e-12, (1 - d) / 2 - 1e-12),
        method="bounded",
        options={"xatol": 1e-12},
    ).x
    return (b - c - n * d) / math.sqrt(n * (2 * q + d * (1 - d)))


def log_ratio_ref(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Studentized CI of mean(a) / mean(b) on the log scale (delta-method se), explicitly."""

    def stat(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        n = a.size
        cov = np.cov(x, y, ddof=1)
        var = cov[0, 0] / x.mean() ** 2 + cov[1, 1] / y.mean() ** 2
        var -= 2 * cov[0, 1] / (x.mean() * y.mean())
        return math.log(x.mean() / y.mean()), math.sqrt(var / n)

    lr, se = stat(a, b)
    ts = []
    for row in w.astype(int):
        lr_r, se_r = stat(np.repeat(a, row), np.repeat(b, row))
        ts.append((lr_r - lr) / se_r)
    t_lo, t_hi = percentile_ci(np.array(ts))
    return math.exp(lr - t_hi * se), math.exp(lr - t_lo * se)


def test_binary_delta_ci_is_tangos_score_interval() -> None:
    rng = np.random.default_rng(3)
    ref = (rng.random(150) < 0.7).astype(float)
    new = np.where(rng.random(150) < 0.8, ref, 1 - ref)
    out = paired_arrays((ref, new), (NAN, NAN), (NAN, NAN), resamples=1000, seed=1)
    assert out["delta"] == pytest.approx(100 * np.mean(new - ref))
    b, c = int(((new == 1) & (ref == 0)).sum()), int(((new == 0) & (ref == 1)).sum())
    z = 1.959963984540054
    # the score statistic is exactly +z at the lower limit and -z at the upper one
    assert tango_score(b, c, 150, out["delta_lo"] / 100) == pytest.approx(z, abs=1e-6)
    assert tango_score(b, c, 150, out["delta_hi"] / 100) == pytest.approx(-z, abs=1e-6)
    assert out["delta_hi"] - out["delta_lo"] > 10  # not a degenerate interval


def test_continuous_delta_is_scaled_tango_and_cost_ratio_a_studentized_bootstrap() -> None:
    rng = np.random.default_rng(5)
    ref = rng.beta(2, 2, 150)  # F1-like values
    new = np.clip(ref + rng.normal(0.05, 0.2, 150), 0, 1)
    cost_ref = rng.gamma(2.0, 0.01, 150)
    cost_new = cost_ref * rng.uniform(1.5, 2.5, 150)
    out = paired_arrays((ref, new), (cost_ref, cost_new), (NAN, NAN), resamples=2000, seed=4)
    # Tango's interval on the differences in units of s = sum d^2 / sum |d|, scaled back
    d = new - ref
    s = (d * d).sum() / np.abs(d).sum()
    b, c = np.clip(d, 0, None).sum() / s, np.clip(-d, 0, None).sum() / s
    z = 1.959963984540054
    for key, zz in (("delta_lo", z), ("delta_hi", -z)):
        assert tango_score(b, c, 150, out[key] / 100 / s) == pytest.approx(zz, abs=1e-6)
    assert out["test"] == "wilcoxon"
    # and close to scipy's percentile interval at this n (both are consistent)
    p_lo, p_hi = _scipy_ci(ref, new, lambda x, y, axis: 100 * np.mean(y - x, axis=axis), seed=6)
    assert (out["delta_lo"], out["delta_hi"]) == pytest.approx((p_lo, p_hi), abs=1.0)
    w = weight_matrix(150, resamples=2000, seed=4)
    lo, hi = log_ratio_ref(cost_new, cost_ref, w)
    assert out["cost_ratio"] == pytest.approx(cost_new.sum() / cost_ref.sum())
    # (the bootstrap sums are float32 products: agreement to ~1e-5, not to the last digit)
    assert (out["cost_ratio_lo"], out["cost_ratio_hi"]) == pytest.approx((lo, hi), rel=1e-4)
    assert out["cost_ratio_lo"] < out["cost_ratio"] < out["cost_ratio_hi"]


def _rec(correct, score=None, cost=0.01, lat=1.0, stratum="x") -> dict:
    return {
        "correct": correct,
        "score": score,
        "cost_usd": cost,
        "latency_s": lat,
        "strata": {"level": stratum},
    }


def _small_example() -> tuple[dict, dict]:
    rng = np.random.default_rng(11)
    ref, new = {}, {}
    for k in range(40):
        ref[f"i{k:02d}"] = _rec(
            bool(rng.random() < 0.6), cost=0.01 + 0.001 * k, lat=1 + k / 10, stratum="ab"[k % 2]
        )
    for k in range(5, 45):  # i00..i04 only in ref, i40..i44 only in new
        new[f"i{k:02d}"] = _rec(
            bool(rng.random() < 0.75), cost=0.02 + 0.001 * k, lat=2 - k / 50, stratum="ab"[k % 2]
        )
    ref["i07"]["correct"] = None  # unscored in ref
    new["i09"]["correct"] = None  # unscored in new
    new["i12"]["cost_usd"] = None  # unknown cost
    return ref, new


def test_every_figure_matches_a_brute_force_pairing() -> None:
    from scipy.stats import binomtest

    ref, new = _small_example()
    out = paired_delta(ref, new, resamples=3000, seed=5)
    common = [i for i in sorted(ref) if i in new]
    scored = [i for i in common if ref[i]["correct"] is not None and new[i]["correct"] is not None]
    costed = [
        i for i in common if ref[i]["cost_usd"] is not None and new[i]["cost_usd"] is not None
    ]
    d = np.array([float(new[i]["correct"]) - float(ref[i]["correct"]) for i in scored])
    assert out["n_common"] == 35 and out["n_paired"] == len(scored) == 33
    assert out["acc_a"] == pytest.approx(np.mean([ref[i]["correct"] for i in scored]))
    assert out["acc_b"] == pytest.approx(np.mean([new[i]["correct"] for i in scored]))
    assert out["delta"] == pytest.approx(100 * d.mean())
    p = binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5).pvalue
    assert out["test"] == "mcnemar_exact" and out["p_value"] == pytest.approx(p)
    assert out["n_cost"] == len(costed) == 34 and out["n_cost_unknown"] == 1
    c_ref = sum(ref[i]["cost_usd"] for i in costed)
    assert out["cost_ratio"] == pytest.approx(sum(new[i]["cost_usd"] for i in costed) / c_ref)
    lat_a = [ref[i]["latency_s"] for i in common]
    lat_b = [new[i]["latency_s"] for i in common]
    pa = float(np.quantile(lat_a, 0.95, method="inverted_cdf"))
    pb = float(np.quantile(lat_b, 0.95, method="inverted_cdf"))
    assert (out["p95_a"], out["p95_b"]) == pytest.approx((pa, pb))
    assert out["p95_ratio"] == pytest.approx(pb / pa)

    # the delta's CI: Tango's score interval from the discordant counts
    b, c = int((d > 0).sum()), int((d < 0).sum())
    for key, z in (("delta_lo", 1.959963984540054), ("delta_hi", -1.959963984540054)):
        assert tango_score(b, c, d.size, out[key] / 100) == pytest.approx(z, abs=1e-6)
    # the P95 ratio's CI: resample by explicit repetition, one resample at a time
    w = weight_matrix(len(common), resamples=3000, seed=5).astype(int)
    p95s = []
    for row in w:
        pick = [i for i, n in zip(common, row, strict=True) for _ in range(n)]
        qa = np.quantile([ref[i]["latency_s"] for i in pick], 0.95, method="inverted_cdf")
        qb = np.quantile([new[i]["latency_s"] for i in pick], 0.95, method="inverted_cdf")
        p95s.append(qb / qa)
    lo, hi = percentile_ci(np.array(p95s))
    assert out["p95_ratio_lo"] == pytest.approx(lo) and out["p95_ratio_hi"] == pytest.approx(hi)
    # the cost ratio's CI: the studentized log-ratio bootstrap over the costed items
    keep = np.array([i in costed for i in common])
    a_new = np.array([new[i]["cost_usd"] for i in costed])
    a_ref = np.array([ref[i]["cost_usd"] for i in costed])
    lo, hi = log_ratio_ref(a_new, a_ref, w[:, keep])
    # (the bootstrap sums are float32 products: agreement to ~1e-5, not to the last digit)
    assert (out["cost_ratio_lo"], out["cost_ratio_hi"]) == pytest.approx((lo, hi), rel=1e-4)
    assert lo < out["cost_ratio"] < hi


def test_latency_ratio_is_null_when_any_paired_latency_is_unknown() -> None:
    ref, new = _small_example()
    new["i20"]["latency_s"] = None
    out = paired_delta(ref, new, resamples=500)
    assert out["n_latency_unknown"] == 1
    assert all(out[k] is None for k in ("p95_a", "p95_b", "p95_ratio", "p95_ratio_lo"))
    assert out["delta"] is not None  # the other figures stand
    # an item in only one run is no paired item: its unknown latency does not matter
    ref, new = _small_example()
    ref["i01"]["latency_s"] = None
    assert paired_delta(ref, new, resamples=500)["p95_ratio"] is not None


def test_scorer_value_and_test_choice() -> None:
    assert scorer_value(_rec(True, score=0.5)) == 0.5
    assert scorer_value(_rec(False)) == 0.0 and scorer_value(_rec(True)) == 1.0
    assert math.isnan(scorer_value(_rec(None, score=0.5)))
    ref = {f"i{k}": _rec(k % 2 == 0, score=[0.5, 0.0, 1.0][k % 3]) for k in range(30)}
    new = {f"i{k}": _rec(True, score=[1.0, 0.5, 1.0][k % 3]) for k in range(30)}
    out = paired_delta(ref, new, resamples=500)
    assert out["test"] == "wilcoxon" and out["p_value"] < 0.01
    assert out["acc_a"] == pytest.approx(0.5) and out["acc_b"] == pytest.approx(2.5 / 3)


def test_strata_are_kept_in_every_resample() -> None:
    # stratum a: the new run costs twice the reference; stratum b: the same. Resampled within
    # strata, every resample has the same ratio of mean costs (1.5): the CI is the point.
    ref = {f"i{k:02d}": _rec(True, cost=0.01, stratum="ab"[k % 2]) for k in range(40)}
    new = {
        i: _rec(True, cost=0.02 if r["strata"]["level"] == "a" else 0.01, stratum="ab"[k % 2])
        for k, (i, r) in enumerate(ref.items())
    }
    labels = strata_labels(ref, new)
    assert labels is not None and set(labels.values()) == {"a", "b"}
    out = paired_delta(ref, new, strata=labels, resamples=2000)
    assert out["cost_ratio"] == pytest.approx(1.5)
    assert (out["cost_ratio_lo"], out["cost_ratio_hi"]) == pytest.approx((1.5, 1.5), rel=1e-5)
    loose = paired_delta(ref, new, resamples=2000)
    assert loose["cost_ratio_lo"] < 1.45 and loose["cost_ratio_hi"] > 1.55


def test_strata_labels_follow_the_analysis_rule() -> None:
    def recs(strata: list[dict]) -> dict:
        return {f"i{k}": {"strata": s} for k, s in enumerate(strata)}

    cells = [{"d": d, "t": t} for d in "xy" for t in "pq"] * 2  # every combined cell has 2
    r = recs(cells)
    assert set(strata_labels(r, r).values()) == {"x|p", "x|q", "y|p", "y|q"}
    assert set(strata_labels(r, r, by=["t", "missing"]).values()) == {"p", "q"}
    thin = recs(cells + [{"d": "x", "t": "z"}])  # a combined cell of 1: the first column alone
    assert set(strata_labels(thin, thin).values()) == {"x", "y"}
    lone = recs(cells + [{"d": "w", "t": "p"}])  # the first column too is thin: none
    assert strata_labels(lone, lone) is None
    assert strata_labels(r, {}) is None  # no common items


def test_gate_and_compare_read_the_same_implementation() -> None:
    from tts_bench.gate import paired_bootstrap
    from tts_bench.report.compare import paired_delta as compare_delta

    ref, new = _small_example()
    for r in (*ref.values(), *new.values()):
        r["strata"] = {}
    out = compare_delta(ref, new, resamples=2000, seed=3)
    assert out == paired_delta(ref, new, resamples=2000, seed=3)
    common = [i for i in sorted(ref) if i in new]
    scored = [i for i in common if ref[i]["correct"] is not None and new[i]["correct"] is not None]
    a = np.array([float(new[i]["correct"]) for i in scored])  # the gate's run
    b = np.array([float(ref[i]["correct"]) for i in scored])  # the gate's `against`
    v, ci = paired_bootstrap(a, b, resamples=2000, seed=3)
    assert v == pytest.approx(out["delta"] / 100)
    assert ci is not None and ci[0] < v < ci[1]
    assert paired_bootstrap(np.array([]), np.array([])) == (None, None)


def test_configs_of_two_runs_share_one_counts_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared `counts` cache draws the matrix once per set of common items and gives the
    figures of a fresh draw per config."""
    from tts_bench.analysis import crossrun

    rng = np.random.default_rng(4)
    ids = [f"i{k:03d}" for k in range(80)]

    def recs(p: float) -> dict[str, dict]:
        return {
            i: {"correct": bool(rng.random() < p), "cost_usd": float(rng.uniform(1, 2)),
                "latency_s": float(rng.uniform(0.1, 1))}
            for i in ids
        }  # fmt: skip

    runs = [(recs(0.5), recs(0.6)), (recs(0.7), recs(0.65))]
    strata = {i: "ab"[k % 2] for k, i in enumerate(ids)}
    fresh = [paired_delta(a, b, strata=strata, resamples=500, seed=3) for a, b in runs]
    drawn = []
    real = crossrun.counts_matrix
    monkeypatch.setattr(crossrun, "counts_matrix", lambda *a, **k: drawn.append(1) or real(*a, **k))
    cache: dict = {}
    shared = [
        paired_delta(a, b, strata=strata, resamples=500, seed=3, counts=cache) for a, b in runs
    ]
    assert shared == fresh and len(drawn) == 1 and len(cache) == 1
    fewer = {i: r for i, r in runs[0][0].items() if i != "i000"}
    paired_delta(fewer, runs[0][1], strata=strata, resamples=500, seed=3, counts=cache)
    assert len(drawn) == 2 and len(cache) == 1  # other items: a new draw, the old one dropped
