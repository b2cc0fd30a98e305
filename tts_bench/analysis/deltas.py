"""Paired deltas against the baseline: accuracy difference (points) with Tango's paired score
interval (scaled for F1: `stats.paired_interval`), the cost ratio with a studentized log-ratio
bootstrap and P50/P95 latency ratios with percentile CIs, both from the shared bootstrap
matrix; exact McNemar (Wilcoxon signed-rank for a continuous score); Holm across configs
overall and across every config x stratum cell of the strata table; power of the test
actually used."""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import (
    MeanBatch,
    add_ratio,
    percentile_ci,
    ratio_ci,
    weighted_quantiles,
)
from tts_bench.analysis.figures import fnum, groups
from tts_bench.analysis.load import RunData
from tts_bench.analysis.stats import holm, mcnemar_exact, paired_interval, power, quantile
from tts_bench.analysis.steps import Step, driven, results


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


def paired_deltas_steps(
    data: RunData, w: np.ndarray, confidence: float, *, alpha: float = 0.05
) -> Step[dict[str, dict[str, Any]]]:
    """{config: {"overall": delta, "strata": {col: {value: delta}}}} for every non-baseline
    config. Items count only when scored under both configs (cost: known under both)."""
    b = data.index(data.baseline)
    others = [c for c in range(len(data.configs)) if c != b]
    grp = groups(data)
    binary = data.metric == "accuracy"
    batch = MeanBatch(w)
    cost_col: dict[tuple[int, int], list[int]] = {}
    for c in others:
        for g, (_, _, gm) in enumerate(grp):
            known = (
                data.present[c]
                & data.present[b]
                & gm
                & ~np.isnan(data.cost[c])
                & ~np.isnan(data.cost[b])
                & (data.scored[c] & gm).any()  # no scored record: no cost ratio from failures
            )
            cost_col[(c, g)] = add_ratio(batch, data.cost[c], data.cost[b], known)
    res = yield from results(batch)
    clusters = np.asarray(data.clusters, dtype=object) if data.clusters else None
    out: dict[str, dict[str, Any]] = {}
    base_q: dict[bytes, Any] = {}
    for c in others:
        entry: dict[str, Any] = {"overall": None, "strata": {}}
        for g, (col, val, gm) in enumerate(grp):
            pair = data.scored[c] & data.scored[b] & gm
            d = data.value[c][pair] - data.value[b][pair]
            known = data.present[c] & data.present[b] & gm
            known &= ~np.isnan(data.cost[c]) & ~np.isnan(data.cost[b])
            known &= (data.scored[c] & gm).any()  # as above: failures have no cost ratio
            base_cost = float(np.sum(data.cost[b][known]))
            d_lo, d_hi, how = paired_interval(
                d, None if clusters is None else clusters[pair].tolist(), confidence
            )
            block: dict[str, Any] = {
                "n_paired": int(pair.sum()),
                "accuracy_points": {
                    "value": fnum(100 * d.mean()) if d.size else None,
                    "ci": [fnum(100 * d_lo), fnum(100 * d_hi)] if d.size else [None, None],
                    "method": how,
                },
                **_test(data, d, data.value[c][pair], data.value[b][pair]),
                "cost_ratio": {
                    "value": fnum(np.sum(data.cost[c][known]) / base_cost) if base_cost else None,
                    "ci": list(
                        ratio_ci(
                            res, cost_col[(c, g)], data.cost[c], data.cost[b], known, confidence
                        )
                    )
                    if base_cost
                    else [None, None],
                    "n": int(known.sum()),
                },
            }
            if col is None:
                block.update(_latency_ratios(data, w, c, b, confidence, base_q))
                block["power"] = power_block(100 * d, alpha, data.analysis.target_delta, binary)
                entry["overall"] = block
            else:
                entry["strata"].setdefault(col, {})[val] = block
        out[data.configs[c]] = entry
    _holm(out, alpha)
    return out


paired_deltas = driven(paired_deltas_steps)


def _latency_ratios(
    data: RunData, w: np.ndarray, c: int, b: int, confidence: float, cache: dict[bytes, Any]
) -> dict[str, Any]:
    """P50/P95 ratios over the items present under both configs; null (value and CI) when
    any of them has an unknown latency under either, as for the quantiles themselves."""
    # a config with no scored record has no latency (its failed calls' is not its own)
    pres = data.present[c] & data.present[b] & data.scored[c].any()
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


def power_block(d: np.ndarray, alpha: float, target: float | None, binary: bool) -> dict[str, Any]:
    """Power analysis in points at 80% power, two-sided alpha: the MDE at the current n and
    the items needed for the suite's target delta and for the observed delta. For 0/1 scores
    from the exact McNemar test's exact power (`analysis.power`, discordance held at the
    observed share); for F1 from the normal approximation of a paired mean. All null, with a
    `note`, below stats.MIN_POWER_ITEMS paired items or when sd(d) = 0."""
    p = power(d, alpha=alpha, target_delta=target)
    observed = float(d.mean()) if d.size else 0.0
    if not binary or p["note"] is not None:
        need_obs = (
            power(d, alpha=alpha, target_delta=abs(observed))["n_for_target"] if observed else None
        )
        method = "normal" if not binary else "exact_mcnemar"
        return {**p, "n_for_observed": need_obs, "method": method, "discordance": None}
    from tts_bench.analysis import power as exact

    n = int(d.size)
    psi = float(np.mean(d != 0))
    level = float(p["power"])  # type: ignore[arg-type]
    mde = exact.mde(n, psi, alpha=alpha, power=level)
    out: dict[str, Any] = {
        **p,
        "mde": None if mde is None else 100 * mde,
        "n_for_target": exact.items_needed(target / 100, psi, alpha=alpha, power=level)
        if target
        else None,
        "n_for_observed": exact.items_needed(abs(observed) / 100, psi, alpha=alpha, power=level)
        if observed
        else None,
        "method": "exact_mcnemar",
        "discordance": psi,
    }
    if mde is None:
        out["note"] = (
            f"no delta reaches {level:.0%} power with {n} paired items at the observed "
            f"discordance ({psi:.0%} of items differ)"
        )
    return out


def holm_families(families: dict[Any, list[float | None]]) -> dict[Any, list[float | None]]:
    """Holm-adjusted p-values within each family (None entries stay None)."""
    return {key: holm(ps) for key, ps in families.items()}


def _holm(out: dict[str, dict[str, Any]], alpha: float) -> None:
    """Holm across configs overall (family "configs"), and across every config x stratum cell
    of the strata table, all strata columns together (family "configs_x_strata"): a starred
    cell anywhere in that table keeps the family-wise error at alpha. Each block records its
    family and the family's size (`holm_family`, `holm_m`)."""
    blocks: dict[str, list[dict[str, Any]]] = {"configs": [], "configs_x_strata": []}
    for entry in out.values():
        blocks["configs"].append(entry["overall"])
        for vals in entry["strata"].values():
            blocks["configs_x_strata"].extend(vals.values())
    pvals = {
        k: [blk["p_value"] if blk["n_paired"] else None for blk in fam] for k, fam in blocks.items()
    }
    adjusted = holm_families(pvals)
    for key, family in blocks.items():
        size = sum(p is not None for p in pvals[key])
        for blk, p in zip(family, adjusted[key], strict=True):
            blk["p_holm"] = p
            blk["significant"] = bool(p is not None and p < alpha)
            blk["holm_family"] = key
            blk["holm_m"] = size
