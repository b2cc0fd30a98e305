"""compare.html: two or more runs of the same suite (e.g. last month's model vs the upgrade),
aligned on item ids, with per-config paired deltas against the first run and the report's
plots overlaid (colour = config, line style / marker = run).

Deltas (run − reference), per config present in both, on the items scored in both: accuracy
in points with a paired percentile bootstrap CI (resampled within the first strata column),
exact McNemar p-value, ratio of mean costs and of P95 latency with bootstrap CIs. Knobs:
`resamples` (default 10,000), `seed` (0), `confidence` (0.95).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.errors import UserError
from tts_bench.report import fmt, plots
from tts_bench.report.html import env, latencies, read_run
from tts_bench.report.model import PALETTE, build
from tts_bench.report.verdict import facts

MAX_LISTED = 5  # mismatched item ids named in a warning


def _by_config(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in records:
        out.setdefault(str(r["config"]), {})[str(r["item_id"])] = r
    return out


def _f(x: Any) -> float:
    return float(x) if fmt.ok(x) else np.nan


def _value(r: dict[str, Any]) -> float:
    """A record's scorer value (1/0, or F1 for set answers); NaN when unscored."""
    if r.get("correct") is None:
        return np.nan
    return _f(r["score"]) if fmt.ok(r.get("score")) else float(bool(r["correct"]))


def _p_value(d: np.ndarray) -> float:
    """Exact McNemar on discordant pairs for 0/1 scores, Wilcoxon signed-rank otherwise
    (the analysis' choice for a run's own deltas)."""
    from tts_bench.analysis.stats import mcnemar_exact

    if np.isin(d, (-1.0, 0.0, 1.0)).all():
        return mcnemar_exact(int((d < 0).sum()), int((d > 0).sum()))
    nz = d[d != 0]
    if nz.size == 0:
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(nz).pvalue)


def paired_delta(
    a: dict[str, dict[str, Any]],
    b: dict[str, dict[str, Any]],
    *,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Run b vs run a for one config: records keyed by item id; pairs on the common items."""
    from tts_bench.analysis.bootstrap import (
        MeanBatch,
        percentile_ci,
        weight_matrix,
        weighted_quantiles,
    )
    from tts_bench.analysis.stats import quantile

    ids = sorted(set(a) & set(b))
    keys = (
        "acc_a",
        "acc_b",
        "delta",
        "delta_lo",
        "delta_hi",
        "p_value",
        "cost_ratio",
        "cost_ratio_lo",
        "cost_ratio_hi",
        "p95_a",
        "p95_b",
        "p95_ratio",
        "p95_ratio_lo",
        "p95_ratio_hi",
    )
    out: dict[str, Any] = {"n_common": len(ids), "n_paired": 0, **dict.fromkeys(keys)}
    if not ids:
        return out
    ra, rb = [a[i] for i in ids], [b[i] for i in ids]
    ca = np.array([_value(r) for r in ra])  # the scorer's value, as in report.html
    cb = np.array([_value(r) for r in rb])
    cost_a = np.array([_f(r.get("cost_usd")) for r in ra])
    cost_b = np.array([_f(r.get("cost_usd")) for r in rb])
    lat_a = np.array([_f(r.get("latency_s")) for r in ra])
    lat_b = np.array([_f(r.get("latency_s")) for r in rb])
    strata = [str(next(iter((r.get("strata") or {"": ""}).values()))) for r in ra]
    counts = {s: strata.count(s) for s in set(strata)}
    w = weight_matrix(
        len(ids),
        resamples=resamples,
        seed=seed,
        strata=strata if min(counts.values()) >= 2 else None,
    )
    pair = ~np.isnan(ca) & ~np.isnan(cb)
    known = ~np.isnan(cost_a) & ~np.isnan(cost_b)
    batch = MeanBatch(w)
    j_acc = batch.add(np.where(pair, cb - ca, 0.0), pair)
    j_cost = batch.add(np.where(known, cost_b, 0.0), np.where(known, cost_a, 0.0))
    res = batch.run()
    acc_lo, acc_hi = percentile_ci(100 * res[:, j_acc], confidence)
    cost_lo, cost_hi = percentile_ci(res[:, j_cost], confidence)
    both = ~np.isnan(lat_a) & ~np.isnan(lat_b)
    qa = weighted_quantiles(w, lat_a, [0.95], both)[:, 0]
    qb = weighted_quantiles(w, lat_b, [0.95], both)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        lat_lo, lat_hi = percentile_ci(qb / qa, confidence)
    pa, pb = quantile(lat_a[both], 0.95), quantile(lat_b[both], 0.95)
    d = (cb - ca)[pair]
    sum_a = float(cost_a[known].sum())
    out.update(
        {
            "n_paired": int(pair.sum()),
            "acc_a": float(ca[pair].mean()) if pair.any() else None,
            "acc_b": float(cb[pair].mean()) if pair.any() else None,
            "delta": float(100 * d.mean()) if d.size else None,
            "delta_lo": acc_lo if d.size else None,
            "delta_hi": acc_hi if d.size else None,
            "p_value": _p_value(d) if d.size else None,
            "cost_ratio": float(cost_b[known].sum() / sum_a) if known.any() and sum_a else None,
            "cost_ratio_lo": cost_lo if sum_a else None,
            "cost_ratio_hi": cost_hi if sum_a else None,
            "p95_a": pa,
            "p95_b": pb,
            "p95_ratio": pb / pa if pa and pb is not None else None,
            "p95_ratio_lo": lat_lo,
            "p95_ratio_hi": lat_hi,
        }
    )
    return out


def _labels(runs: list[dict[str, Any]]) -> list[str]:
    labels = []
    for i, r in enumerate(runs):
        lab = str(r["facts"]["run_id"] or r["dir"].name)
        labels.append(lab if lab not in labels else f"{lab} #{i + 1}")
    return labels


def warnings_for(runs: list[dict[str, Any]]) -> list[str]:
    """Mismatched suites, datasets, items and configs; partial runs."""
    out = []
    ref = runs[0]
    for r in runs[1:]:
        pair = f"{r['label']} vs {ref['label']}"
        if r["facts"]["suite"] != ref["facts"]["suite"]:
            out.append(
                f"{pair}: different suites ({r['facts']['suite']} / {ref['facts']['suite']})"
            )
        if r["facts"]["fingerprint"] != ref["facts"]["fingerprint"]:
            out.append(f"{pair}: different dataset fingerprints: items may differ in content")
        ia, ib = ref["item_ids"], r["item_ids"]
        for where, miss in ((ref["label"], sorted(ia - ib)), (r["label"], sorted(ib - ia))):
            if miss:
                names = ", ".join(miss[:MAX_LISTED]) + (", …" if len(miss) > MAX_LISTED else "")
                out.append(
                    f"{pair}: {len(miss)} items only in {where} ({names}); "
                    "deltas use the common items"
                )
        ca, cb = set(ref["by_config"]), set(r["by_config"])
        if ca ^ cb:
            out.append(f"{pair}: configs not in both runs: {', '.join(sorted(ca ^ cb))}")
    for r in runs:
        if r["facts"]["partial"]:
            out.append(f"{r['label']}: partial run (status {r['facts']['status']})")
    return out


def write_compare(
    run_dirs: list[Path | str], out: Path | str, *, resamples: int = 10_000, seed: int = 0
) -> tuple[Path, list[str]]:
    """Write compare.html for `run_dirs` (the first is the reference); return (path, warnings)."""
    if len(run_dirs) < 2:
        raise UserError("compare: give at least two run directories")
    runs = []
    for d in run_dirs:
        summary, manifest, records, _calls = read_run(Path(d))
        vm = build(summary, manifest)
        runs.append(
            {
                "dir": Path(d),
                "vm": vm,
                "facts": facts(manifest, summary),
                "by_config": _by_config(records),
                "lat": latencies(records),
                "item_ids": {str(r["item_id"]) for r in records},
            }
        )
    for r, lab in zip(runs, _labels(runs), strict=True):
        r["label"] = lab
    for r in runs[1:]:
        if not r["item_ids"] & runs[0]["item_ids"]:
            raise UserError(
                f"compare: {r['dir']} has no item in common with {runs[0]['dir']}: "
                "nothing to pair (are they runs of the same dataset?)"
            )
    names: list[str] = []
    for r in runs:
        names += [c["name"] for c in r["vm"]["configs"] if c["name"] not in names]
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    for r in runs:
        for c in r["vm"]["configs"]:
            c["color"] = colors[c["name"]]
    warns = warnings_for(runs)
    ref = runs[0]
    rows = []
    for r in runs[1:]:
        for n in names:
            if n in ref["by_config"] and n in r["by_config"]:
                d = paired_delta(
                    ref["by_config"][n], r["by_config"][n], resamples=resamples, seed=seed
                )
                rows.append({"config": n, "color": colors[n], "run": r["label"], **d})
    html = (
        env()
        .get_template("compare.html.j2")
        .render(
            runs=runs,
            rows=rows,
            warnings=warns,
            ref=ref,
            sentences=[_sentence(x, ref["label"]) for x in rows],
            plots=_plots(runs, names),
        )
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path, warns


def _sentence(x: dict[str, Any], ref: str) -> str:
    if not fmt.ok(x.get("delta")):
        return f"{x['config']}: {x['run']} vs {ref}: no paired items"
    return (
        f"{x['config']}: {x['run']} vs {ref}: {fmt.pts(x['delta'])} pts "
        f"(95% CI {fmt.ci(x['delta_lo'], x['delta_hi'], fmt.pts)}) at "
        f"{fmt.ratio(x['cost_ratio'])} cost, P95 {fmt.ratio(x['p95_ratio'])} "
        f"({x['n_paired']} paired items)"
    )


def _plots(runs: list[dict[str, Any]], names: list[str]) -> list[dict[str, str]]:
    views = [
        {"label": r["label"], "configs": r["vm"]["configs"], "pareto": r["vm"]["pareto"]}
        for r in runs
    ]
    strata: list[dict[str, Any]] = []
    cols: list[str] = []
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for r in runs:
        for g in r["vm"]["strata"]:
            grp = by_key.setdefault(
                (g["column"], g["value"]), {"column": g["column"], "value": g["value"], "rows": []}
            )
            for row in g["rows"]:
                name = f"{row['name']} · {r['label']}"
                grp["rows"].append({**row, "name": name})
                if name not in cols:
                    cols.append(name)
    strata = list(by_key.values())
    fails = [
        {**c, "name": f"{c['name']} · {r['label']}"}
        for n in names
        for r in runs
        for c in r["vm"]["configs"]
        if c["name"] == n
    ]
    metric = runs[0]["vm"]["metric"]
    return [
        {
            "name": "saturation",
            "svg": plots.saturation(views, metric),
            "caption": "Accuracy vs N per pooled config; line style = run; ★ saturation point.",
        },
        {
            "name": "cost_accuracy",
            "svg": plots.cost_accuracy(views, metric),
            "caption": "Operating points of every run; marker shape = run; step lines: frontiers.",
        },
        {
            "name": "latency",
            "svg": plots.latency(views, [r["lat"] for r in runs]),
            "caption": "Critical-path latency per request; | P50, ◆ P95.",
        },
        {
            "name": "strata",
            "svg": plots.strata_heatmap(strata, cols, metric),
            "caption": "Accuracy per stratum value, config and run.",
        },
        {
            "name": "failures",
            "svg": plots.failures(fails),
            "caption": "Outcomes per config and run.",
        },
    ]
