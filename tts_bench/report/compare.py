"""compare.html: two or more runs of the same suite (e.g. last month's model vs the upgrade),
aligned on item ids, with per-config paired deltas against the first run and the report's
plots overlaid (colour = config, line style / marker = run).

Deltas (run − reference), per config present in both, paired on the common items
(`tts_bench.analysis.crossrun`): the scorer's value in points with Tango's paired score
interval, exact McNemar (0/1) or Wilcoxon p-value, ratio of mean costs and of P95 latency with
bootstrap CIs (resampled within the analysis' strata). Knobs: `resamples` (default
10,000), `seed` (0), `confidence` (0.95).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.fsutil import atomic_write_text
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


def _sample_by(manifest: dict[str, Any]) -> list[str]:
    """The suite's `dataset.sample.by` columns (the analysis resamples within them)."""
    dataset = (manifest.get("suite") or {}).get("dataset") or {}
    return [str(c) for c in (dataset.get("sample") or {}).get("by") or []]


def paired_delta(
    a: dict[str, dict[str, Any]],
    b: dict[str, dict[str, Any]],
    *,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    by: Sequence[str] = (),
) -> dict[str, Any]:
    """Run b vs run a for one config: records keyed by item id; pairs on the common items,
    resampled within the strata of `analysis.crossrun.strata_labels` (`by`: the suite's
    `dataset.sample.by`). Keys as `analysis.crossrun.paired_delta`."""
    from tts_bench.analysis import crossrun

    return crossrun.paired_delta(
        a,
        b,
        strata=crossrun.strata_labels(a, b, by),
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )


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
    run_dirs: list[Path | str],
    out: Path | str,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    rows_out: list[dict[str, Any]] | None = None,
) -> tuple[Path, list[str]]:
    """Write compare.html for `run_dirs` (the first is the reference); return (path, warnings).
    rows_out: a list that receives the per-config delta rows (each with `ref`, the reference
    run's label), e.g. for `terminal_table`."""
    if len(run_dirs) < 2:
        raise UserError("compare: give at least two run directories")
    runs = []
    for d in run_dirs:  # every run is read (and checked) before the page is written
        summary, manifest, records, _calls = read_run(Path(d), write=False)  # only read
        vm = build(summary, manifest)
        runs.append(
            {
                "dir": Path(d),
                "vm": vm,
                "facts": facts(manifest, summary),
                "by_config": _by_config(records),
                "lat": latencies(records),
                "item_ids": {str(r["item_id"]) for r in records},
                "sample_by": _sample_by(manifest),
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
                    ref["by_config"][n],
                    r["by_config"][n],
                    resamples=resamples,
                    seed=seed,
                    by=ref["sample_by"],
                )
                rows.append(
                    {"config": n, "color": colors[n], "run": r["label"], "ref": ref["label"], **d}
                )
    if rows_out is not None:
        rows_out.extend(rows)
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
    atomic_write_text(path, html)  # a failure leaves the previous page, never half of one
    return path, warns


def terminal_table(rows: list[dict[str, Any]]) -> Any:
    """The per-config deltas as a rich Table (what `compare` prints): one row per (config,
    run), the same figures as the page's delta table."""
    from rich.table import Table

    ref = rows[0]["ref"] if rows else "reference"
    t = Table(title=f"compare: deltas vs {ref} (paired by item, 95% CI)")
    for col in ("config", "run", f"{ref} acc.", "run acc.", "Δ pts (95% CI)", "p"):
        t.add_column(col, justify="left" if col in ("config", "run") else "right")
    for col in ("cost ×", "P95 ×", "paired"):
        t.add_column(col, justify="right")
    for x in rows:
        t.add_row(
            x["config"],
            x["run"],
            fmt.pct(x.get("acc_a")),
            fmt.pct(x.get("acc_b")),
            f"{fmt.pts(x.get('delta'))} ({fmt.ci(x.get('delta_lo'), x.get('delta_hi'), fmt.pts)})",
            fmt.pvalue(x.get("p_value")),
            fmt.ratio(x.get("cost_ratio")),
            fmt.ratio(x.get("p95_ratio")),
            str(x.get("n_paired", "—")),
        )
    return t


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
