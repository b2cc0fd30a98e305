"""The paired delta of one config between two runs (analysis/crossrun.py): CIs against
scipy.stats.bootstrap, every figure against a brute-force pairing of a small example, the
latency and test rules, strata, and the gate / compare wrappers reading the same numbers."""

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


def test_delta_ci_agrees_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    ref = (rng.random(150) < 0.7).astype(float)
    new = np.where(rng.random(150) < 0.8, ref, 1 - ref)
    out = paired_arrays((ref, new), (NAN, NAN), (NAN, NAN), resamples=10_000, seed=1)
    lo, hi = _scipy_ci(ref, new, lambda x, y, axis: 100 * np.mean(y - x, axis=axis), seed=2)
    assert out["delta"] == pytest.approx(100 * np.mean(new - ref))
    # Monte-Carlo error of a 2.5% quantile at 10,000 resamples is well under 1 point here
    assert out["delta_lo"] == pytest.approx(lo, abs=1.0)
    assert out["delta_hi"] == pytest.approx(hi, abs=1.0)
    assert out["delta_hi"] - out["delta_lo"] > 10  # not a degenerate interval


def test_continuous_delta_and_cost_ratio_agree_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(5)
    ref = rng.beta(2, 2, 150)  # F1-like values
    new = np.clip(ref + rng.normal(0.05, 0.2, 150), 0, 1)
    cost_ref = rng.gamma(2.0, 0.01, 150)
    cost_new = cost_ref * rng.uniform(1.5, 2.5, 150)
    out = paired_arrays((ref, new), (cost_ref, cost_new), (NAN, NAN), resamples=10_000, seed=4)
    lo, hi = _scipy_ci(ref, new, lambda x, y, axis: 100 * np.mean(y - x, axis=axis), seed=6)
    assert (out["delta_lo"], out["delta_hi"]) == pytest.approx((lo, hi), abs=0.5)
    assert out["test"] == "wilcoxon"
    lo, hi = _scipy_ci(
        cost_ref, cost_new, lambda x, y, axis: np.mean(y, axis=axis) / np.mean(x, axis=axis), 7
    )
    assert out["cost_ratio"] == pytest.approx(cost_new.sum() / cost_ref.sum())
    assert (out["cost_ratio_lo"], out["cost_ratio_hi"]) == pytest.approx((lo, hi), abs=0.02)
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

    # the CIs: resample the same item counts by explicit repetition, one resample at a time
    w = weight_matrix(len(common), resamples=3000, seed=5).astype(int)
    deltas, ratios, p95s = [], [], []
    for row in w:
        pick = [i for i, n in zip(common, row, strict=True) for _ in range(n)]
        ds = [float(new[i]["correct"]) - float(ref[i]["correct"]) for i in pick if i in scored]
        deltas.append(100 * np.mean(ds) if ds else np.nan)
        cs = [i for i in pick if i in costed]
        ratios.append(sum(new[i]["cost_usd"] for i in cs) / sum(ref[i]["cost_usd"] for i in cs))
        qa = np.quantile([ref[i]["latency_s"] for i in pick], 0.95, method="inverted_cdf")
        qb = np.quantile([new[i]["latency_s"] for i in pick], 0.95, method="inverted_cdf")
        p95s.append(qb / qa)
    for key, samples in (("delta", deltas), ("cost_ratio", ratios), ("p95_ratio", p95s)):
        lo, hi = percentile_ci(np.array(samples))
        assert out[f"{key}_lo"] == pytest.approx(lo) and out[f"{key}_hi"] == pytest.approx(hi)
        assert lo < hi


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
    # stratum a: every item gains a point; stratum b: none does. Resampled within strata,
    # every resample has half its items gaining: the CI is the point itself.
    ref = {f"i{k:02d}": _rec(False, stratum="ab"[k % 2]) for k in range(40)}
    new = {
        i: _rec(r["strata"]["level"] == "a", stratum=r["strata"]["level"]) for i, r in ref.items()
    }
    labels = strata_labels(ref, new)
    assert labels is not None and set(labels.values()) == {"a", "b"}
    out = paired_delta(ref, new, strata=labels, resamples=2000)
    assert out["delta"] == 50 and (out["delta_lo"], out["delta_hi"]) == (50, 50)
    loose = paired_delta(ref, new, resamples=2000)
    assert loose["delta_lo"] < 45 and loose["delta_hi"] > 55


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
