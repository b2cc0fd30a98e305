"""The history page: one self-contained HTML file (Jinja2, autoescaped; inline SVG plots from
matplotlib, imported lazily), per config over time. Built from `tts_bench.history.History`.

Plots put runs on a time axis (dates by matplotlib's concise formatter, so labels never
crowd), one colour per config as in the report, and keep legends below the axes so they never
cover data. Every number in a table is formatted with one unit per column.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.history import History

PLOTS = (
    ("accuracy", "Accuracy", "Accuracy (95% CI as bars)."),
    ("cost_per_request", "Cost per request (USD)", "Mean cost per request."),
    ("p95_latency_s", "P95 latency (s)", "P95 critical-path latency (P50 dotted)."),
    (
        "failure_rate[format_violation]",
        "Format violations",
        "Share of requests whose answer broke the format.",
    ),
    ("failure_rate[refusal]", "Refusals", "Share of requests the model refused."),
)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text
            "svg.hashsalt": "tts-bench",  # the same history twice is the same bytes
            "text.parse_math": False,  # config names are user text, never mathtext
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    return plt


def _svg(fig: Any, name: str) -> str:
    """One inline <svg>; its ids prefixed with `name`, since inline SVGs share one page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    svg = buf.getvalue()
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg") :], flags=re.S)
    svg = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{name}-\1"', svg)
    return svg.replace("<svg ", f'<svg data-plot="{name}" role="img" ', 1)


def _when(iso: str) -> datetime | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def _plot(h: History, metric: str, ylabel: str, name: str) -> str:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter

    from tts_bench.report.model import PALETTE

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    drawn = False
    dates = [d for d in (_when(r["started"]) for r in h.runs) if d is not None]
    span = max(max(dates) - min(dates), timedelta(days=1)) if dates else timedelta(days=1)
    n = len(h.configs)
    for i, (config, points) in enumerate(h.configs.items()):
        # configs side by side around each run's time, so CI bars never hide each other
        shift = span * 0.012 * (i - (n - 1) / 2) if metric == "accuracy" else timedelta(0)
        xs, ys, lo, hi = [], [], [], []
        for p in points:
            when, (v, ci) = _when(p.started), p.values.get(metric, (None, None))
            if when is None or v is None:
                continue
            xs.append(when + shift)
            ys.append(v)
            lo.append(v - ci[0] if ci else 0.0)
            hi.append(ci[1] - v if ci else 0.0)
        if not xs:
            continue
        drawn = True
        color = PALETTE[i % len(PALETTE)]
        if metric == "accuracy":
            ax.errorbar(
                xs, ys, yerr=[lo, hi], color=color, marker="o", ms=4, capsize=3, label=config
            )
        else:
            ax.plot(xs, ys, color=color, marker="o", ms=4, label=config)
        if metric == "p95_latency_s":
            p50 = [(_when(p.started), p.values["p50_latency_s"][0]) for p in points]
            p50 = [(x, y) for x, y in p50 if x is not None and y is not None]
            if p50:
                ax.plot(*zip(*p50, strict=True), color=color, ls=":", lw=1)
    if not drawn:
        ax.axis("off")
        ax.text(0.5, 0.5, "not measured in any run", ha="center", va="center", color="#666")
        return _svg(fig, name)
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(FuncFormatter(_tick(metric)))
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(n, 6), frameon=False)
    return _svg(fig, name)


def _tick(metric: str) -> Any:
    """Plain tick labels in the metric's unit: 12%, $0.00020, 1.5 s (no scientific notation)."""
    if metric == "accuracy" or metric.startswith("failure_rate["):
        return lambda v, _: f"{round(100 * v, 2):g}%"
    if metric == "cost_per_request":
        return lambda v, _: "$0" if v == 0 else f"${v:.6f}".rstrip("0")
    return lambda v, _: f"{v:g} s"


def view(h: History) -> dict[str, Any]:
    """The template's data: runs, a table per config (one row per run) and the alerts."""
    from tts_bench.report.model import PALETTE

    tables, alerts = [], []
    for i, (config, points) in enumerate(h.configs.items()):
        rows, prev_model = [], None
        for p in points:
            acc, ci = p.values["accuracy"]
            rows.append(
                {
                    "run": p.run_id,
                    "started": p.started.replace("T", " ")[:16],
                    "model": p.model,
                    "model_changed": prev_model is not None and p.model != prev_model,
                    "n": p.n,
                    "accuracy": acc,
                    "ci": ci,
                    "cost": p.values["cost_per_request"][0],
                    "p50": p.values["p50_latency_s"][0],
                    "p95": p.values["p95_latency_s"][0],
                    "p99": p.values["p99_latency_s"][0],
                    "format": p.values["failure_rate[format_violation]"][0],
                    "refusal": p.values["failure_rate[refusal]"][0],
                    "alerts": [f"{d.metric}: {d.note}" for d in p.alerts],
                }
            )
            prev_model = p.model
            alerts += [{"run": p.run_id, "config": config, "d": d} for d in p.alerts]
        tables.append({"config": config, "color": PALETTE[i % len(PALETTE)], "rows": rows})
    return {"tables": tables, "alerts": alerts}


def render(h: History) -> str:
    """The history page as a string."""
    from tts_bench import __version__
    from tts_bench.report.html import env

    plots = [
        {"name": f"history-{i}", "svg": _plot(h, m, label, f"history-{i}"), "caption": cap}
        for i, (m, label, cap) in enumerate(PLOTS)
    ]
    return (
        env()
        .get_template("history.html.j2")
        .render(h=h, plots=plots, tool_version=__version__, **view(h))
    )


def write_history(h: History, out: Path | str) -> Path:
    """Write the page atomically to `out`; returns its path."""
    from tts_bench.fsutil import atomic_write_text

    path = Path(out)
    if path.is_dir():
        raise UserError(f"-o {path}: is a directory (name the HTML file to write)")
    atomic_write_text(path, render(h))
    return path
