"""The report's view model: summary.json (the analysis) + manifest, flattened for templates.

This is the only module that knows summary.json's layout (see docs/analysis.md); a schema
change touches this file alone. Everything here is plain dicts/lists of numbers and strings;
a figure the analysis did not produce stays None and renders as "—" (not measured).
Fractions (accuracy) stay in [0, 1]; deltas are in points; ratios are multiples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
# summary.json is stale when one of these is newer (a resume appends records; a status
# change or an added imported config rewrites the manifest).
SOURCES = ("records.jsonl", "manifest.json", "review/labels.jsonl", "review/design.json")

# the cost column's mark of how a config's pools were drawn (pool_request)
POOL_MARKS = {"n": " (n-pooled)", "separate": " (separate)", "mixed": " (mixed)"}
# Consistent colours per config across every plot and table (matplotlib's tab10, then tab20).
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
]
INFRA = ("rate_limited", "timeout", "api_error")
PARTIAL = ("running", "interrupted", "budget_exceeded", "failed", "partial")  # partial: a merge


def get(d: Any, *path: Any) -> Any:
    """d[p0][p1]... or None when any step is missing."""
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        else:
            return None
    return d


def current_summary(run_dir: Path | str) -> dict[str, Any] | None:
    """run_dir/summary.json when it is readable, of this schema version and not older than
    records.jsonl or manifest.json; else None (absent, damaged or stale: recompute it)."""
    rd = Path(run_dir)
    path = rd / "summary.json"
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    if any((rd / s).exists() and (rd / s).stat().st_mtime > mtime for s in SOURCES):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):  # bad JSON, not UTF-8, nested too deep
        return None  # a damaged file: recompute
    if not isinstance(data, dict) or get(data, "meta", "schema_version") != SCHEMA_VERSION:
        return None
    return data


def _ci(block: Any) -> tuple[Any, Any, Any]:
    """(value, lo, hi) of a {"value", "ci": [lo, hi]} block."""
    ci = get(block, "ci") or [None, None]
    return get(block, "value"), ci[0] if len(ci) > 0 else None, ci[1] if len(ci) > 1 else None


def figures_row(fig: Any, delta: Any) -> dict[str, Any]:
    """One config (or one config within a stratum): figures + deltas, flattened."""
    acc, acc_lo, acc_hi = _ci(get(fig, "accuracy"))
    d, d_lo, d_hi = _ci(get(delta, "accuracy_points"))
    cr, cr_lo, cr_hi = _ci(get(delta, "cost_ratio"))
    r50, r50_lo, r50_hi = _ci(get(delta, "latency_p50_ratio"))
    r95, r95_lo, r95_hi = _ci(get(delta, "latency_p95_ratio"))
    lat = get(fig, "latency") or {}
    fails = get(fig, "failures", "shares") or {}
    row = {
        "n_items": get(fig, "n_items"),
        "n_scored": get(fig, "n_scored"),
        "acc": acc,
        "acc_lo": acc_lo,
        "acc_hi": acc_hi,
        "acc_method": get(fig, "accuracy", "method"),
        "delta": d,
        "delta_lo": d_lo,
        "delta_hi": d_hi,
        "p_value": get(delta, "p_value"),
        "p_holm": get(delta, "p_holm"),
        "significant": get(delta, "significant"),
        "cost_mean": get(fig, "cost", "mean_usd"),
        "cost_total": get(fig, "cost", "total_usd"),
        "cost_unknown": get(fig, "cost", "n_unknown"),
        "cost_ratio": cr,
        "cost_ratio_lo": cr_lo,
        "cost_ratio_hi": cr_hi,
        "p50_ratio": r50,
        "p50_ratio_lo": r50_lo,
        "p50_ratio_hi": r50_hi,
        "p95_ratio": r95,
        "p95_ratio_lo": r95_lo,
        "p95_ratio_hi": r95_hi,
        "latency_note": lat.get("note"),
        "failures": dict(fails),
        "infra_share": get(fig, "failures", "infrastructure", "share"),
        "model_fail_share": get(fig, "failures", "model", "share"),
        "calls": get(fig, "calls_per_request"),
        # set_f1 suites only (None otherwise): recall, its complement and exact-set accuracy
        "recall": get(fig, "recall"),
        "miss_rate": get(fig, "miss_rate"),
        "exact_acc": get(fig, "exact_accuracy"),
        "tok_in": get(fig, "tokens", "input_mean"),
        "tok_out": get(fig, "tokens", "output_mean"),
        "tok_reasoning": get(fig, "tokens", "reasoning_mean"),
    }
    toks = [t for t in (row["tok_in"], row["tok_out"], row["tok_reasoning"]) if _num(t)]
    row["tok_total"] = sum(toks) if toks else None
    for q in ("p50", "p95", "p99"):
        v, lo, hi = _ci(lat.get(q))
        row[q], row[q + "_lo"], row[q + "_hi"] = v, lo, hi
    # time to first token: only configs that streamed have it (None otherwise: not shown)
    row["ttft_p50"] = get(fig, "ttft", "p50", "value")
    row["ttft_p95"] = get(fig, "ttft", "p95", "value")
    return row


def saturation_view(sat: Any) -> dict[str, Any] | None:
    """The curves over N of a pooled config, or None when it kept no pool."""
    if not isinstance(sat, dict) or not sat.get("ks"):
        return None
    curves = sat.get("curves") or {}
    sel = sat.get("selector") or "majority"
    main = curves.get(sel) or curves.get("majority") or {}
    gain, g_lo, g_hi = _ci(sat.get("remaining_gain_points"))
    point, pool = sat.get("saturation_point"), sat.get("pool_size")
    saturated = sat.get("saturated")
    if not isinstance(saturated, bool):  # summaries written before the analysis said so
        saturated = isinstance(point, int) and isinstance(pool, int) and point < pool
    return {
        "ks": sat["ks"],
        "selector": sel,
        "mean": main.get("mean"),
        "lo": main.get("ci_low"),
        "hi": main.get("ci_high"),
        "pass_at_k": get(curves, "pass_at_k", "mean"),
        "cost": curves.get("cost_usd"),
        "latency": curves.get("latency_s"),
        "point": point,
        "saturated": saturated,
        "max_n": max(sat["ks"]),
        "gain": gain,
        "gain_lo": g_lo,
        "gain_hi": g_hi,
        "epsilon": sat.get("epsilon_points"),
        "falls": bool(sat.get("falls")),
        "max_drop": sat.get("max_drop_points"),
        "verdict": sat.get("verdict"),  # absent from summaries written before it was added
        "gain_from": get(sat, "remaining_gain_points", "from"),
        "fall": sat.get("fall_points"),
        "pool_size": pool,
        "note": sat.get("note"),
    }


def build(summary: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The whole view model: configs, strata, routing, pareto and analysis settings."""
    meta = summary.get("meta") or {}
    entries = [c for c in summary.get("configs") or [] if isinstance(c, dict) and c.get("config")]
    baseline = meta.get("baseline") or manifest.get("baseline")
    specs = {c["name"]: c for c in manifest.get("configs") or [] if "name" in c}
    as_run = as_run_labels(entries, specs, summary.get("frontier"))
    configs = []
    for i, e in enumerate(entries):
        name = e["config"]
        sat = saturation_view(e.get("saturation"))
        spec = {"strategy": e.get("strategy"), "model": e.get("model"), **specs.get(name, {})}
        row = figures_row(e, e.get("delta"))
        row.update(
            {
                "name": name,
                "color": PALETTE[i % len(PALETTE)],
                "is_baseline": bool(e.get("is_baseline")) or name == baseline,
                "strategy": spec.get("strategy"),
                "model": spec.get("model"),
                "n_label": _n_label(spec, sat),
                "run_label": as_run.get(name, name),
                "saturation": sat,
                "power": e.get("power"),
                "curve_note": e.get("note"),  # why a config that sampled has no curve
                # how its pools were drawn and the other way's cost (analysis/poolcost.py)
                "pool_cost": e.get("pool_cost"),
                "pool_mark": POOL_MARKS.get(get(e, "pool_cost", "pool_request"), ""),
            }
        )
        configs.append(row)
    return {
        "metric": meta.get("metric") or "accuracy",
        "baseline": baseline,
        "configs": configs,
        "strata": strata_view(entries),
        "routing": routing_view(summary.get("routing"), as_run),
        "routing_note": get(summary, "routing", "note"),  # why there is no routing
        "pareto": pareto_view(summary.get("frontier"), as_run),
        "epsilon": meta.get("epsilon_points"),
        "confidence": meta.get("confidence") or 0.95,
        # the strata table's stars: Holm over every config x stratum cell (m of them); None
        # in summaries written before the family spanned the whole table
        "strata_holm_m": get(meta, "multiplicity", "strata", "m"),
        "meta": meta,
        # judge vs human review; adds `corrected` to each config row (None without labels)
        "judged": judged_view(summary.get("judged"), configs),
    }


def as_run_labels(
    entries: list[dict[str, Any]], specs: dict[str, Any], frontier: Any
) -> dict[str, str]:
    """{config: 'sc@9'} for every config whose pool points (sc@1, sc@5, ...) are operating
    points too: next to them, the config as run is the point at its largest N, and a bare
    'sc' would read as a different setting."""
    pooled = {p.get("config") for p in frontier or [] if isinstance(p, dict) and p.get("n")}
    out = {}
    for e in entries:
        name = e["config"]
        if name not in pooled:
            continue
        n = (specs.get(name) or {}).get("n")
        top = max(n) if isinstance(n, list) and n else n
        if not isinstance(top, int):
            top = get(e, "saturation", "pool_size")
        if isinstance(top, int):
            out[name] = f"{name}@{top}"
    return out


def _n_label(spec: dict[str, Any], sat: dict[str, Any] | None) -> str | None:
    n = spec.get("n")
    if isinstance(n, list) and n:
        return f"{min(n)}..{max(n)}"
    if n is not None:
        return str(n)
    return str(sat["pool_size"]) if sat else None


def strata_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{column, value, n_items, rows: [row per config]}] in the analysis' order."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        for col, vals in (e.get("strata") or {}).items():
            for val, block in (vals if isinstance(vals, dict) else {}).items():
                if not isinstance(block, dict):
                    continue
                grp = out.setdefault((col, val), {"column": col, "value": val, "rows": []})
                row = figures_row(block, block.get("delta"))
                row["name"] = e["config"]
                grp["rows"].append(row)
                grp.setdefault("n_items", row["n_items"])
    return list(out.values())


def routing_view(r: Any, as_run: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The routing recommendation: per stratum value the operating point, and the blended
    policy vs the best single point. `gain` says what the paired CI of routed − best single
    shows: "demonstrated" (above 0), "worse" (below 0) or "none" (contains 0, or unknown)."""
    if not isinstance(r, dict) or not isinstance(r.get("routes"), dict) or not r["routes"]:
        return None
    if not r.get("by"):  # no strata column: nothing to route by, only one policy to compare
        return None
    lab = as_run or {}
    rows = []
    for val, e in r["routes"].items():
        rows.append(
            {
                "value": val,
                "config": e.get("config"),
                "label": _label(e.get("label") or e.get("config"), lab),
                "acc": e.get("accuracy"),
                "cost": e.get("cost_usd"),
                "p95": e.get("latency_p95_s"),
                "share": e.get("share"),
                "best_label": _label(e.get("best_label"), lab),
                "best_acc": e.get("best_accuracy"),
                "thin": bool(e.get("thin")),
                "meets_budgets": e.get("meets_budgets", True),
            }
        )
    routed = r.get("routed") or {}
    best = r.get("best_single") or {}
    vs = r.get("routed_vs_single") or {}
    d, d_lo, d_hi = _ci(vs.get("accuracy_points"))
    ins = r.get("in_sample") or {}
    acc_ci = routed.get("accuracy_ci") or [None, None]
    best_ci = best.get("accuracy_ci") or [None, None]
    return {
        "column": r.get("by"),
        "epsilon": r.get("epsilon_points"),
        "budgets": r.get("budgets") or {},
        "rows": rows,
        "acc": routed.get("accuracy"),
        "acc_lo": acc_ci[0],
        "acc_hi": acc_ci[1],
        "cost": routed.get("cost_usd"),
        "p95": routed.get("latency_p95_s"),
        # out of sample (cross-fitted) when `folds` is set; the in-sample figures beside them
        "folds": get(r, "cross_fit", "folds"),
        "acc_in_sample": get(ins, "routed", "accuracy"),
        "best_acc_in_sample": get(ins, "best_single", "accuracy"),
        "best_config": _label(best.get("label") or best.get("config"), lab),
        "best_acc": best.get("accuracy"),
        "best_acc_lo": best_ci[0],
        "best_acc_hi": best_ci[1],
        "best_cost": best.get("cost_usd"),
        "best_p95": best.get("latency_p95_s"),
        "delta": d,
        "delta_lo": d_lo,
        "delta_hi": d_hi,
        "cost_ratio": vs.get("cost_ratio"),
        "n_paired": vs.get("n_paired"),
        "gain": _gain(d_lo, d_hi),
    }


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x


def _label(label: Any, as_run: dict[str, str]) -> Any:
    return as_run.get(label, label) if isinstance(label, str) else label


def _gain(lo: Any, hi: Any) -> str:
    ok = [_num(x) for x in (lo, hi)]
    if all(ok) and lo > 0:
        return "demonstrated"
    if all(ok) and hi < 0:
        return "worse"
    return "none"


def pareto_view(p: Any, as_run: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Points {config, n, cost, acc, frontier, marginal} (n None for a single-answer config)."""
    out = []
    for pt in p or []:
        if not isinstance(pt, dict):
            continue
        out.append(
            {
                "label": _label(pt.get("label") or pt.get("config"), as_run or {}),
                "config": pt.get("config"),
                "n": pt.get("n"),
                "p95": pt.get("latency_p95_s"),
                "cost": pt.get("cost_usd"),
                "acc": pt.get("accuracy"),
                "frontier": bool(pt.get("on_frontier")),
                # vs the next cheaper frontier point (analysis.frontier.marginal); None if none
                "marginal": pt.get("marginal") if isinstance(pt.get("marginal"), dict) else None,
            }
        )
    return out


def judged_view(j: Any, configs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """summary.json's `judged` block flattened: agreement, kappa and confusion overall, one
    row per config (judge-only and corrected accuracy and delta, labels, agreement, kappa),
    one row per stratum value; each config row of `configs` gains `corrected` (its row here)
    so the verdict can speak of the corrected figures. None without human labels."""
    if not isinstance(j, dict) or not isinstance(j.get("configs"), list):
        return None

    def agree(a: Any) -> dict[str, Any]:
        ag, ag_lo, ag_hi = _ci(get(a, "agreement"))
        k, k_lo, k_hi = _ci(get(a, "kappa"))
        return {
            "n": get(a, "n"),
            "n_items": get(a, "n_items"),
            "agree": ag,
            "agree_lo": ag_lo,
            "agree_hi": ag_hi,
            "kappa": k,
            "kappa_lo": k_lo,
            "kappa_hi": k_hi,
            "confusion": get(a, "confusion") or {},
        }

    rows = []
    for e in j["configs"]:
        if not isinstance(e, dict):
            continue
        acc, acc_lo, acc_hi = _ci(e.get("judge_only"))
        cacc, cacc_lo, cacc_hi = _ci(e.get("corrected"))
        d, d_lo, d_hi = _ci(get(e, "delta", "judge_only"))
        cd, cd_lo, cd_hi = _ci(get(e, "delta", "corrected"))
        pts = [None if x is None else 100 * x for x in (d, d_lo, d_hi, cd, cd_lo, cd_hi)]
        rows.append(
            {
                "name": e.get("config"),
                "judge_acc": acc,
                "judge_acc_lo": acc_lo,
                "judge_acc_hi": acc_hi,
                "acc": cacc,
                "acc_lo": cacc_lo,
                "acc_hi": cacc_hi,
                "judge_delta": pts[0],
                "judge_delta_lo": pts[1],
                "judge_delta_hi": pts[2],
                "delta": pts[3],
                "delta_lo": pts[4],
                "delta_hi": pts[5],
                "n_labelled": get(e, "corrected", "n_labelled"),
                "n_delta_labelled": get(e, "delta", "corrected", "n_labelled"),
                **agree(e.get("agreement")),
            }
        )
    by_name = {r["name"]: r for r in rows}
    for c in configs:
        c["corrected"] = by_name.get(c["name"])
    strata = [
        {"column": col, "value": val, **agree(blk)}
        for col, vals in (j.get("strata") or {}).items()
        for val, blk in (vals if isinstance(vals, dict) else {}).items()
    ]
    return {
        **agree(j.get("agreement")),
        "n_labels": j.get("n_labels"),
        "n_labelled_items": j.get("n_labelled_items"),
        "design_by": get(j, "design", "by"),
        "rows": rows,
        "strata": strata,
        "notes": [n for n in j.get("notes") or [] if isinstance(n, str)],
    }
