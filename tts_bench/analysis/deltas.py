"""Paired deltas against the baseline: accuracy difference (points), cost ratio, P50/P95
latency ratios, each with a percentile CI from the shared bootstrap matrix; exact McNemar
(Wilcoxon signed-rank for a continuous score) and Holm across configs; power analysis."""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci, weighted_quantiles
from tts_bench.analysis.figures import fnum, groups
from tts_bench.analysis.load import RunData
from tts_bench.analysis.stats import holm, mcnemar_exact, power, quantile


def _test(data: RunData, d: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """p-value of the paired difference: exact McNemar on discordant pairs for 0/1 scores,
    Wilcoxon signed-rank for a continuous score (F1)."""
    if data.metric == "accuracy":
        only_a = int(((a == 1) & (b == 0)).sum())
        only_b = int(((a == 0) & (b == 1)).sum())
        return {
            "test": "mcnemar_exact",
            "p_value": mcnemar_exact(only_a, only_b),
            "discordant": {"config_only": only_a, "baseline_only": only_b},
        }
    nz = d[d != 0]
    if nz.size == 0:
        return {"test": "wilcoxon", "p_value": 1.0, "discordant": None}
    from scipy.stats import wilcoxon

    return {"test": "wilcoxon", "p_value": float(wilcoxon(nz).pvalue), "discordant": None}


def paired_deltas(
    data: RunData, w: np.ndarray, confidence: float, *, alpha: float = 0.05
) -> dict[str, dict[str, Any]]:
    """{config: {"overall": delta, "strata": {col: {value: delta}}}} for every non-baseline
    config. Items count only when scored under both configs (cost: known under both)."""
    b = data.index(data.baseline)
    others = [c for c in range(len(data.configs)) if c != b]
    grp = groups(data)
    batch = MeanBatch(w)
    acc_col: dict[tuple[int, int], int] = {}
    cost_col: dict[tuple[int, int], int] = {}
    for c in others:
        for g, (_, _, gm) in enumerate(grp):
            pair = data.scored[c] & data.scored[b] & gm
            acc_col[(c, g)] = batch.add((data.value[c] - data.value[b]) * pair, pair)
            known = (
                data.present[c]
                & data.present[b]
                & gm
                & ~np.isnan(data.cost[c])
                & ~np.isnan(data.cost[b])
            )
            cost_col[(c, g)] = batch.add(data.cost[c] * known, data.cost[b] * known)
    res = batch.run()
    lo, hi = percentile_ci(res, confidence)
    out: dict[str, dict[str, Any]] = {}
    base_q: dict[bytes, Any] = {}
    for c in others:
        entry: dict[str, Any] = {"overall": None, "strata": {}}
        for g, (col, val, gm) in enumerate(grp):
            pair = data.scored[c] & data.scored[b] & gm
            d = data.value[c][pair] - data.value[b][pair]
            known = data.present[c] & data.present[b] & gm
            known &= ~np.isnan(data.cost[c]) & ~np.isnan(data.cost[b])
            base_cost = float(np.sum(data.cost[b][known]))
            j, k = acc_col[(c, g)], cost_col[(c, g)]
            block: dict[str, Any] = {
                "n_paired": int(pair.sum()),
                "accuracy_points": {
                    "value": fnum(100 * d.mean()) if d.size else None,
                    "ci": [fnum(100 * lo[j]), fnum(100 * hi[j])] if d.size else [None, None],
                },
                **_test(data, d, data.value[c][pair], data.value[b][pair]),
                "cost_ratio": {
                    "value": fnum(np.sum(data.cost[c][known]) / base_cost) if base_cost else None,
                    "ci": [fnum(lo[k]), fnum(hi[k])] if base_cost else [None, None],
                    "n": int(known.sum()),
                },
            }
            if col is None:
                block.update(_latency_ratios(data, w, c, b, confidence, base_q))
                block["power"] = _power(100 * d, alpha, data.analysis.target_delta)
                entry["overall"] = block
            else:
                entry["strata"].setdefault(col, {})[val] = block
        out[data.configs[c]] = entry
    _holm(out, alpha)
    return out


def _latency_ratios(
    data: RunData, w: np.ndarray, c: int, b: int, confidence: float, cache: dict[bytes, Any]
) -> dict[str, Any]:
    """P50/P95 ratios over the items present under both configs; null (value and CI) when
    any of them has an unknown latency under either, as for the quantiles themselves."""
    pres = data.present[c] & data.present[b]
    both = pres & ~np.isnan(data.latency[c]) & ~np.isnan(data.latency[b])
    names = ["latency_p50_ratio", "latency_p95_ratio"]
    n, unknown = int(both.sum()), int((pres & ~both).sum())
    if unknown or not n:
        return {k: {"value": None, "ci": [None, None], "n": n, "n_unknown": unknown} for k in names}
    qs = [0.5, 0.95]
    rc = weighted_quantiles(w, data.latency[c], qs, both)
    key = both.tobytes()
    if key not in cache:  # the baseline's quantiles repeat for every config
        cache[key] = weighted_quantiles(w, data.latency[b], qs, both)
    rb = cache[key]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = rc / rb
    ratio[~np.isfinite(ratio)] = np.nan
    lo, hi = percentile_ci(ratio, confidence)
    out: dict[str, Any] = {}
    for j, (q, name) in enumerate(zip(qs, names, strict=True)):
        pc, pb = quantile(data.latency[c][both], q), quantile(data.latency[b][both], q)
        out[name] = {
            "value": fnum(pc / pb) if pc is not None and pb else None,
            "ci": [fnum(lo[j]), fnum(hi[j])],
            "n": n,
            "n_unknown": 0,
        }
    return out


def _power(d: np.ndarray, alpha: float, target: float | None) -> dict[str, Any]:
    """Power analysis in points: MDE at the current n, items for the suite's target delta and
    for the observed delta (80% power, two-sided alpha); all null, with a `note`, below
    stats.MIN_POWER_ITEMS paired items or when sd(d) = 0."""
    p = power(d, alpha=alpha, target_delta=target)
    observed = float(d.mean()) if d.size else 0.0
    need_obs = (
        power(d, alpha=alpha, target_delta=abs(observed))["n_for_target"] if observed else None
    )
    return {**p, "n_for_observed": need_obs}  # sd_d, mde, target_delta: all in points


def _holm(out: dict[str, dict[str, Any]], alpha: float) -> None:
    """Holm across configs, separately overall and within each stratum value."""
    blocks: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for entry in out.values():
        blocks.setdefault((None, None), []).append(entry["overall"])
        for col, vals in entry["strata"].items():
            for val, blk in vals.items():
                blocks.setdefault((col, val), []).append(blk)
    for family in blocks.values():
        adj = holm([blk["p_value"] if blk["n_paired"] else None for blk in family])
        for blk, p in zip(family, adj, strict=True):
            blk["p_holm"] = p
            blk["significant"] = bool(p is not None and p < alpha)
