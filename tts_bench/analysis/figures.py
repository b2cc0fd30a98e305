"""Per-config figures, overall and per stratum: the scorer's mean with its Wilson CI, cost,
tokens, calls, latency quantiles with order-statistic CIs, time to first token when the
config streamed, failure modes, unscored rate."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tts_bench.analysis.load import INFRA, RunData
from tts_bench.analysis.stats import mean_interval, quantile, quantile_ci

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def groups(data: RunData) -> list[tuple[str | None, str | None, np.ndarray]]:
    """(column, value, item mask): overall first, then every value of every strata column,
    in display order (`RunData.strata_values`)."""
    out: list[tuple[str | None, str | None, np.ndarray]] = [
        (None, None, np.ones(len(data.items), dtype=bool))
    ]
    for col, labels in data.strata.items():
        arr = np.asarray(labels)
        for val in data.strata_values[col]:
            out.append((col, val, arr == val))
    return out


def fnum(x: Any) -> float | None:
    """A JSON-safe float: None for missing / NaN / inf."""
    if x is None:
        return None
    f = float(x)
    return None if not np.isfinite(f) else f


def _mean(x: np.ndarray, mask: np.ndarray) -> float | None:
    sel = x[mask]
    sel = sel[~np.isnan(sel)]
    return fnum(sel.mean()) if sel.size else None


def latency_block(lat: np.ndarray, confidence: float) -> dict[str, Any]:
    """P50/P95/P99 with distribution-free order-statistic intervals over every record's
    latency (NaN = unknown). One unknown latency makes every quantile and its interval null:
    the quantile of the known ones is not the group's (the unknown ones may be the slowest).
    `n` counts the known latencies, `n_unknown` the others; `mean` is over the known ones."""
    unknown = int(np.isnan(lat).sum())
    lat = lat[~np.isnan(lat)]
    out: dict[str, Any] = {
        "n": int(lat.size),
        "n_unknown": unknown,
        "mean": fnum(lat.mean()) if lat.size else None,
    }
    short = []
    for name, q in QUANTILES.items():
        if unknown:
            out[name] = {"value": None, "ci": [None, None]}
            continue
        lo, hi = quantile_ci(lat, q, confidence)
        out[name] = {"value": quantile(lat, q), "ci": [lo, hi]}
        if lat.size and (lo is None or hi is None):
            short.append(name.upper())
    if unknown:
        out["note"] = (
            f"latency unknown for {unknown} of {unknown + lat.size} records: no P50/P95/P99 "
            "(a quantile of the known ones is not the group's)"
        )
    else:
        out["note"] = (
            f"too few items for a finite {'/'.join(short)} bound at {confidence:.0%}"
            if short
            else None
        )
    return out


def ttft_block(
    ttft: np.ndarray, confidence: float, tps: np.ndarray | None = None
) -> dict[str, Any] | None:
    """P50/P95 time to first token over the records that have one (`ttft_s`; NaN = none),
    with order-statistic intervals; None when no record of the group streamed. Unlike
    latency, records without a first token (a failed or unstreamed request) are left out and
    counted in `n_unknown`: there is no first token to wait for, not an unknown wait.
    tps: each record's `output_tps` (NaN = none): its median, with the same kind of interval,
    over the one-call streamed records (`output_tps`, null when there are none)."""
    known = ttft[~np.isnan(ttft)]
    if not known.size:
        return None
    out: dict[str, Any] = {"n": int(known.size), "n_unknown": int(ttft.size - known.size)}
    for name in ("p50", "p95"):
        lo, hi = quantile_ci(known, QUANTILES[name], confidence)
        out[name] = {"value": quantile(known, QUANTILES[name]), "ci": [lo, hi]}
    rates = tps[~np.isnan(tps)] if tps is not None else np.empty(0)
    out["output_tps"] = None
    if rates.size:
        lo, hi = quantile_ci(rates, 0.5, confidence)
        out["output_tps"] = {
            "n": int(rates.size),
            "p50": {"value": quantile(rates, 0.5), "ci": [lo, hi]},
        }
    return out


def _field(recs: list[dict[str, Any] | None], key: str) -> np.ndarray:
    """Each record's `key` as floats (NaN when absent or null)."""
    values = [r.get(key) if r else None for r in recs]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def failure_block(recs: list[dict[str, Any] | None], mask: np.ndarray) -> dict[str, Any]:
    labels = Counter(
        str(r["failure"]) for r, m in zip(recs, mask, strict=True) if m and r and r.get("failure")
    )
    n = int(mask.sum())
    infra = {k: v for k, v in labels.items() if k in INFRA}
    model = {k: v for k, v in labels.items() if k not in INFRA}

    def part(d: dict[str, int]) -> dict[str, Any]:
        total = sum(d.values())
        return {"count": total, "share": total / n if n else None, "by_label": dict(d)}

    return {
        "counts": dict(labels.most_common()),
        "shares": {k: v / n for k, v in labels.most_common()} if n else {},
        "infrastructure": part(infra),
        "model": part(model),
    }


def config_figures(data: RunData, w: np.ndarray, confidence: float) -> dict[str, dict]:
    """{config: {"overall": block, "strata": {col: {value: block}}}}. The scorer's mean gets a
    Wilson interval at every n (`stats.mean_interval`: on the summed F1 for set answers;
    counts divided by the design effect when items share a cluster). `w`, the shared
    bootstrap matrix, is not needed here any more and kept for the callers' signature."""
    binary = data.metric == "accuracy"
    grp = groups(data)
    clusters = np.asarray(data.clusters, dtype=object) if data.clusters else None
    out: dict[str, dict] = {}
    for c, name in enumerate(data.configs):
        entry: dict[str, Any] = {"overall": None, "strata": {}}
        ttft = _field(data.records[c], "ttft_s")
        tps = _field(data.records[c], "output_tps")
        for col, val, gm in grp:
            present = data.present[c] & gm
            scored = data.scored[c] & gm
            n_items, n_scored = int(present.sum()), int(scored.sum())
            point = _mean(data.value[c], scored)
            lo, hi, method = mean_interval(
                data.value[c][scored],
                None if clusters is None else clusters[scored].tolist(),
                confidence,
            )
            # A group with no scored record has no cost, tokens or latency: those of
            # failed calls are not the config's (null, shown as "—", never $0).
            basis = present if n_scored else np.zeros_like(present)
            known = basis & ~np.isnan(data.cost[c])
            block: dict[str, Any] = {
                "n_items": n_items,
                "n_scored": n_scored,
                "unscored": n_items - n_scored,
                "unscored_rate": (n_items - n_scored) / n_items if n_items else None,
                "accuracy": {
                    "value": point,
                    "ci": [fnum(lo), fnum(hi)],
                    "method": method,
                },
                "cost": {
                    "mean_usd": _mean(data.cost[c], known),
                    "total_usd": fnum(np.sum(data.cost[c][known])) if known.any() else None,
                    "n_known": int(known.sum()),
                    "n_unknown": n_items - int(known.sum()),
                },
                "tokens": {
                    "input_mean": _mean(data.input_tokens[c], basis),
                    "output_mean": _mean(data.output_tokens[c], basis),
                    "reasoning_mean": _mean(data.reasoning_tokens[c], basis),
                },
                "calls_per_request": _mean(data.n_calls[c], basis),
                "latency": latency_block(data.latency[c][basis], confidence),
                "ttft": ttft_block(ttft[basis], confidence, tps[basis]),
                "failures": failure_block(data.records[c], present),
            }
            if not binary:
                recall = _mean(data.recall[c], scored)
                block["exact_accuracy"] = _mean(data.correct[c], scored)
                block["recall"] = recall
                block["miss_rate"] = None if recall is None else 1 - recall
            if col is None:
                entry["overall"] = block
            else:
                entry["strata"].setdefault(col, {})[val] = block
        out[name] = entry
    return out
