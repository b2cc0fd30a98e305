"""The report's plots, as inline SVG strings (matplotlib, Agg backend, imported lazily).

Every function takes view-model pieces (see model.py) and returns one `<svg>` element; a
plot with nothing to show is still an SVG that says so, so the page layout never shifts.
Colours come from each config's `color`, so a config looks the same in every plot.
Runs (in compare) are told apart by line style / marker, not colour, and a legend says
which is which. Legends sit beside the axes, never over data or axis labels; shared pieces
(set-up, tick formats, label placement) are in plots_axes.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tts_bench.report.plots_axes import (
    _empty,
    _finite,
    _pcs,
    _plt,
    _svg,
    cost_axis,
    legend_beside,
    place_labels,
    time_axis,
)

LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D"]
FAIL_COLORS = {
    "correct": "#c7e9c0",
    "wrong_answer": "#d62728",
    "overconfident": "#8c1d1d",
    "format_violation": "#ff7f0e",
    "truncated": "#bcbd22",
    "refusal": "#9467bd",
    "hallucination": "#e377c2",
    "rate_limited": "#7f7f7f",
    "timeout": "#525252",
    "api_error": "#252525",
}
MAX_POINT_LABELS = 6
HEATMAP_MAX_WIDTH_IN = 9.0
_place_labels = place_labels  # the name tests and older callers use


def saturation(runs: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """Accuracy vs N per pooled config: CI band, pass@k ceiling dashed, saturation point
    marked; each run's baseline accuracy as a grey line. runs: [{"label", "configs"}]."""
    import numpy as np

    pooled = [(ri, c) for ri, r in enumerate(runs) for c in r["configs"] if c.get("saturation")]
    if not pooled:
        return _empty("saturation", "No config kept a sample pool: no curves over N.")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for ri, c in pooled:
        s = c["saturation"]
        ks = s["ks"]
        y = _pcs(s.get("mean"), len(ks))
        tag = f"{c['name']}" + (f" · {runs[ri]['label']}" if len(runs) > 1 else "")
        ls = LINESTYLES[ri % len(LINESTYLES)]
        ax.plot(ks, y, ls, color=c["color"], lw=2, label=f"{tag} ({s['selector']})")
        lo, hi = _pcs(s.get("lo"), len(ks)), _pcs(s.get("hi"), len(ks))
        # a band needs both sides: with ~1 item (e.g. a run stopped by --max-cost) the
        # analysis leaves every CI null, and there is no band to draw
        band = np.isfinite(lo) & np.isfinite(hi)
        if band.any() and len(runs) == 1:
            ax.fill_between(ks, lo, hi, where=band, color=c["color"], alpha=0.15, lw=0)
        ceiling = _pcs(s.get("pass_at_k"), len(ks))
        if np.isfinite(ceiling).any() and len(runs) == 1:
            ax.plot(
                ks,
                ceiling,
                "--",
                color=c["color"],
                lw=1,
                alpha=0.8,
                label=f"{tag} pass@k (ceiling)",
            )
        p = s.get("point")
        if s.get("saturated") and isinstance(p, int) and 1 <= p <= len(y) and np.isfinite(y[p - 1]):
            ax.plot(
                [p],
                [y[p - 1]],
                marker="*",
                ms=14,
                color=c["color"],
                mec="black",
                mew=0.6,
                ls="none",
            )
            ax.annotate(
                f"N={p}", (p, y[p - 1]), textcoords="offset points", xytext=(6, -12), fontsize=8
            )
    for ri, r in enumerate(runs):
        base = next((c for c in r["configs"] if c["is_baseline"]), None)
        if base and _finite(base.get("acc")):
            ax.axhline(
                100 * base["acc"],
                color="#888",
                lw=1,
                ls=LINESTYLES[ri % 4],
                label=f"baseline {base['name']}" + (f" · {r['label']}" if len(runs) > 1 else ""),
            )
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("N (samples)")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title("Saturation: accuracy vs N (★ saturation point)", loc="left")
    legend_beside(ax)
    return _svg(fig, "saturation")


def cost_accuracy(runs: Sequence[dict[str, Any]], metric: str = "accuracy") -> str:
    """Every operating point (configs as run, pool points at each N) by mean cost/request and
    accuracy; the Pareto frontier as a step line. Configs as run are labelled beside their
    point, placed clear of the other labels (with more than MAX_POINT_LABELS of them a legend,
    colour = config, replaces the labels); pool points carry their N ("@4") in small type.
    With several runs, a legend names each run's marker shape."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    labelled: list[tuple[float, float, str, str]] = []  # (cost, acc %, label, colour)
    pooled: list[tuple[float, float, str, str]] = []
    for ri, r in enumerate(runs):
        colors = {c["name"]: c["color"] for c in r["configs"]}
        pts = [p for p in r["pareto"] if _plottable(p["cost"], p["acc"])]
        if not pts:  # no pareto in the summary: the configs as run
            pts = [
                {
                    "label": c["name"],
                    "config": c["name"],
                    "n": None,
                    "cost": c["cost_mean"],
                    "acc": c["acc"],
                    "frontier": False,
                }
                for c in r["configs"]
                if _plottable(c["cost_mean"], c["acc"])
            ]
        for p in pts:
            pool = p["n"] is not None
            color = colors.get(p["config"], "#444")
            ax.scatter(
                [p["cost"]],
                [100 * p["acc"]],
                color=color,
                marker=MARKERS[ri % 4],
                s=18 if pool else 60,
                alpha=0.6 if pool else 1,
                edgecolor="black" if p["frontier"] else "none",
                lw=0.8,
                zorder=3,
            )
            spot = (p["cost"], 100 * p["acc"], p["label"], color)
            (pooled if pool else labelled).append(spot)
        front = sorted((p for p in pts if p["frontier"]), key=lambda p: p["cost"])
        if front:
            ax.step(
                [p["cost"] for p in front],
                [100 * p["acc"] for p in front],
                where="post",
                color="#333",
                lw=1,
                ls=LINESTYLES[ri % 4],
                zorder=2,
                label="Pareto frontier" + (f" · {r['label']}" if len(runs) > 1 else ""),
            )
    if not ax.collections:
        _plt().close(fig)
        return _empty("cost_accuracy", "Cost not measured: no cost-accuracy plot.")
    ax.set_xscale("log")
    ax.autoscale_view()
    cost_axis(ax.xaxis)
    ax.set_xlabel("mean cost per request (USD, log)")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(
        "Cost vs accuracy (small dots: pool points, labelled @N; ringed: on the frontier)",
        loc="left",
    )
    from matplotlib.lines import Line2D

    names = list(dict.fromkeys(lab for _, _, lab, _ in labelled))
    if len(labelled) > MAX_POINT_LABELS:
        colours = {lab: col for _, _, lab, col in labelled}
        for lab in names:
            ax.add_line(Line2D([], [], ls="none", marker="o", color=colours[lab], label=lab))
        placed = None
    else:
        placed = place_labels(fig, ax, labelled)
    # a pool point's label is its N: the colour says which config's pool it is
    tags = [(x, y, "@" + lab.rsplit("@", 1)[-1], c) for x, y, lab, c in pooled]
    place_labels(fig, ax, tags, avoid=placed, fontsize=6, color="#555")
    if len(runs) > 1:
        for ri, r in enumerate(runs):
            ax.add_line(
                Line2D([], [], ls="none", marker=MARKERS[ri % 4], color="#666", label=r["label"])
            )
    if ax.get_legend_handles_labels()[0]:
        legend_beside(ax)
    return _svg(fig, "cost_accuracy")


def _plottable(cost: Any, acc: Any) -> bool:
    """On a log cost axis: a known positive cost and a known accuracy."""
    return _finite(cost) and cost > 0 and _finite(acc)


def latency(runs: Sequence[dict[str, Any]], latencies: Sequence[dict[str, list[float]]]) -> str:
    """Per config, the distribution of critical-path latency (violin) with P50 (|) and P95
    (◆) marked. latencies: per run {config: [seconds]}."""
    import numpy as np

    rows = []
    for ri, r in enumerate(runs):
        for c in r["configs"]:
            x = [v for v in latencies[ri].get(c["name"], []) if _finite(v) and v > 0]
            if x:
                rows.append((ri, c, np.asarray(x, dtype=float)))
    if not rows:
        return _empty("latency", "Latency not measured.")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.2))
    for y, (_ri, c, x) in enumerate(reversed(rows)):
        try:  # matplotlib >= 3.10 names it `orientation`; `vert` is deprecated there
            parts = ax.violinplot(
                [x], positions=[y], orientation="horizontal", widths=0.8, showextrema=False
            )
        except TypeError:
            parts = ax.violinplot([x], positions=[y], vert=False, widths=0.8, showextrema=False)
        for b in parts["bodies"]:
            b.set_facecolor(c["color"])
            b.set_alpha(0.35)
            b.set_edgecolor("none")
        p50, p95 = np.quantile(x, [0.5, 0.95], method="inverted_cdf")
        ax.plot([p50], [y], "|", color="black", ms=14, mew=2)
        ax.plot([p95], [y], "D", color=c["color"], mec="black", ms=6)
    labels = [
        c["name"] + (f" · {runs[ri]['label']}" if len(runs) > 1 else "")
        for ri, c, _ in reversed(rows)
    ]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xscale("log")
    unit = time_axis(ax.xaxis, [float(x.max()) for _, _, x in rows])
    ax.set_xlabel(f"critical-path latency per request ({unit}, log)   | P50   ◆ P95")
    ax.set_title("Latency distributions", loc="left")
    ax.grid(axis="y", visible=False)
    return _svg(fig, "latency")


def strata_heatmap(
    strata: Sequence[dict[str, Any]], names: Sequence[str], metric: str = "accuracy"
) -> str:
    """Accuracy per (stratum value × config), annotated; '—' where not measured."""
    import numpy as np

    if not strata or not names:
        return _empty("strata", "No strata in this suite.")
    grid = np.full((len(strata), len(names)), np.nan)
    for i, g in enumerate(strata):
        for row in g["rows"]:
            if row["name"] in names and _finite(row["acc"]):
                grid[i, list(names).index(row["name"])] = 100 * row["acc"]
    plt = _plt()
    # The page shows a plot at most ~9 in wide: a wider figure is scaled down, text with it.
    # So the width is capped and the cell text shrinks with the number of cells instead
    # (never below 7 pt); x labels turn steeper as columns get narrower.
    n_cols, n_rows = len(names), len(strata)
    width = min(HEATMAP_MAX_WIDTH_IN, max(4.5, 0.9 * n_cols + 2))
    cell_in = (width - 2.2) / n_cols
    size = float(np.clip(72 * cell_in / 2.4, 7, 9))  # "100" is ~2 em wide, plus a margin
    fig, ax = plt.subplots(figsize=(width, 0.45 * n_rows + 1.3))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid[i, j]
            dark = not np.isnan(v) and (v < 15 or v > 85)  # the colour map's deep ends
            ax.text(
                j,
                i,
                "—" if np.isnan(v) else f"{v:.0f}",
                ha="center",
                va="center",
                fontsize=size,
                color="white" if dark else "black",
            )
    rotation = 30 if n_cols <= 6 else 60 if n_cols <= 12 else 90
    ax.set_xticks(
        range(n_cols), names, rotation=rotation, ha="center" if rotation == 90 else "right"
    )
    ax.tick_params(labelsize=size)
    ax.set_yticks(range(len(strata)), [f"{g['column']}={g['value']}" for g in strata])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label=f"{metric} (%)", shrink=0.8)
    ax.set_title(f"{metric} by stratum", loc="left")
    return _svg(fig, "strata")


def failures(configs: Sequence[dict[str, Any]]) -> str:
    """Stacked bars of outcome shares per config: correct, each model failure, each
    infrastructure failure (infra labels in greys)."""
    rows = [c for c in configs if _finite(c.get("n_items")) and c["n_items"] > 0]
    if not rows:
        return _empty("failures", "No records.")
    labels: list[str] = []
    for c in rows:
        labels += [k for k in c["failures"] if k not in labels]
    order = [k for k in FAIL_COLORS if k in labels and k != "correct"]
    order += [k for k in labels if k not in order]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(rows) + 1.4))
    for y, c in enumerate(reversed(rows)):
        left = 0.0
        acc = c["acc"] if _finite(c["acc"]) else 0.0
        scored = (c["n_scored"] or 0) / c["n_items"]
        correct = acc * scored
        ax.barh(
            y,
            100 * correct,
            left=0,
            color=FAIL_COLORS["correct"],
            label="correct" if y == 0 else None,
        )
        left = 100 * correct
        for k in order:
            share = 100 * (c["failures"].get(k) if _finite(c["failures"].get(k)) else 0)
            ax.barh(
                y,
                share,
                left=left,
                color=FAIL_COLORS.get(k, "#999"),
                label=k.replace("_", " ") if y == 0 else None,
            )
            left += share
    ax.set_yticks(range(len(rows)), [c["name"] for c in reversed(rows)])
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of requests (%)")
    ax.set_title("Outcomes and failure modes", loc="left")
    ax.grid(axis="y", visible=False)
    legend_beside(ax)
    return _svg(fig, "failures")
