"""Shared pieces of the report's plots: the matplotlib set-up, SVG export, tick formats (cost
and time in fixed notation, one unit per axis), legends outside the axes, point labels that
avoid each other, and tick labels thinned until none overlap.

Knobs: LABEL_SPOTS (where a point label may go, in order of preference), LEGEND_GAP (axes
fractions between the axes' right edge and a legend placed beside them).
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

LEGEND_GAP = 0.02
# (dx, dy) in points and horizontal alignment: right, below-right, left, below-left, higher...
LABEL_SPOTS = [
    (5, 4, "left"),
    (5, -11, "left"),
    (-5, 4, "right"),
    (-5, -11, "right"),
    (5, 13, "left"),
    (5, -20, "left"),
    (-5, 13, "right"),
    (-5, -20, "right"),
]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
            "svg.hashsalt": "tts-bench",  # stable ids: the same report twice is the same bytes
            # config names and stratum values are user text: "a$b" or "x^_y" is shown as
            # written, never parsed as mathtext (which raises on an unbalanced "$")
            "text.parse_math": False,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.dpi": 100,
        }
    )
    return plt


def _plain_log_labels(fig: Any) -> None:
    """With mathtext off, matplotlib's own log-axis labels ("$\\mathdefault{10^{-1}}$") would
    show as written: label those axes with plain numbers (0.1, 0.4) instead."""
    from matplotlib.ticker import LogFormatter, LogFormatterMathtext

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for get, put in (
                (axis.get_major_formatter, axis.set_major_formatter),
                (axis.get_minor_formatter, axis.set_minor_formatter),
            ):
                f = get()
                if isinstance(f, LogFormatterMathtext):
                    base, only = getattr(f, "_base", 10.0), f.labelOnlyBase
                    put(LogFormatter(base, labelOnlyBase=only, minor_thresholds=f.minor_thresholds))


def _svg(fig: Any, name: str) -> str:
    _plain_log_labels(fig)
    for ax in fig.axes:
        thin_ticks(fig, ax)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # Inline SVGs share one id namespace: prefix this plot's ids (clip paths, glyphs).
    svg = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{name}-\1"', svg)
    return svg.replace("<svg ", f'<svg data-plot="{name}" role="img" ', 1)


def _empty(name: str, text: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#666")
    return _svg(fig, name)


def legend_beside(ax: Any, **kw: Any) -> Any:
    """The axes' legend to the right of the axes, outside them: it never covers a data mark,
    a tick label or an axis label (the figure grows to hold it)."""
    return ax.legend(
        loc="upper left",
        bbox_to_anchor=(1 + LEGEND_GAP, 1),
        borderaxespad=0,
        fontsize=7,
        frameon=False,
        **kw,
    )


def plain(v: float) -> str:
    """A tick number in fixed notation, shortest exact form: 0.00005, 0.2, 1, 2.5, 1,000."""
    if not math.isfinite(v) or v == 0:
        return "0"
    digits = max(0, 3 - math.floor(math.log10(abs(v))))
    s = f"{v:,.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def cost_axis(axis: Any) -> None:
    """A log axis of dollars per request: ticks at 1, 2, 5 × 10^k (1 × 10^k only across more
    than two decades), labelled '$0.0002' (never 2×10⁻⁴)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from tts_bench.report.fmt import usd_tick

    lo, hi = sorted(axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 and hi > 0 else 0
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: usd_tick(v)))
    axis.set_minor_formatter(NullFormatter())


def time_axis(axis: Any, values: Any) -> str:
    """A log axis of durations in seconds, in one unit (ms when every value is below 1 s,
    else s), ticks at 1, 2, 5 × 10^k in plain numbers; returns the unit for the axis label."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from tts_bench.report.fmt import time_unit

    unit = time_unit(values)
    scale = 1000.0 if unit == "ms" else 1.0
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: plain(v * scale)))
    axis.set_minor_formatter(NullFormatter())
    return unit


def thin_ticks(fig: Any, ax: Any) -> None:
    """Show every k-th tick label of a numeric axis, k the smallest that leaves no two visible
    labels overlapping. Category labels (config names, strata) are never hidden."""
    from matplotlib.ticker import FixedFormatter

    renderer = fig.canvas.get_renderer()
    for axis in (ax.xaxis, ax.yaxis):
        if isinstance(axis.get_major_formatter(), FixedFormatter):
            continue
        lo, hi = sorted(axis.get_view_interval())
        coord = 0 if axis.axis_name == "x" else 1
        labels = [
            t for t in axis.get_ticklabels() if t.get_text() and lo <= t.get_position()[coord] <= hi
        ]
        step = 1
        while step < len(labels):
            boxes = [t.get_window_extent(renderer) for t in labels[::step]]
            if not any(x.overlaps(y) for x, y in zip(boxes, boxes[1:], strict=False)):
                break
            step += 1
        if step > 1:
            _freeze(axis, labels[::step], coord)


def _freeze(axis: Any, kept: list[Any], coord: int) -> None:
    """Fix the axis' ticks to `kept` (matplotlib re-creates tick labels on every draw)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    lim = axis.get_view_interval()
    axis.set_major_locator(FixedLocator([t.get_position()[coord] for t in kept]))
    axis.set_major_formatter(FixedFormatter([t.get_text() for t in kept]))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
    axis.set_view_interval(*lim, ignore=True)


def place_labels(
    fig: Any,
    ax: Any,
    pts: list[tuple[float, float, str, str]],
    avoid: list[Any] | None = None,
    **kw: Any,
) -> list[Any]:
    """Annotate each point with its label at the first spot (LABEL_SPOTS) whose text box
    overlaps no label placed before it nor a box in `avoid`; the first spot when none is
    free. kw: text options (fontsize 8 unless given). Returns every box placed and avoided
    (display coordinates)."""
    ax.get_xlim(), ax.get_ylim()  # settle the autoscaled limits before measuring text
    renderer = fig.canvas.get_renderer()
    kw = {"fontsize": 8, **kw}

    def put(x: float, y: float, label: str, spot: tuple[int, int, str]) -> Any:
        dx, dy, ha = spot
        return ax.annotate(label, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, **kw)

    placed: list[Any] = list(avoid or [])
    for x, y, label, _colour in sorted(pts, key=lambda t: (t[0], -t[1])):
        for spot in LABEL_SPOTS:
            t = put(x, y, label, spot)
            box = t.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed):
                break
            t.remove()
        else:
            box = put(x, y, label, LABEL_SPOTS[0]).get_window_extent(renderer)
        placed.append(box)
    return placed


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _pcs(values: Any, n: int) -> Any:
    """A curve in percent as a float array of length n: null (or missing) -> NaN, so numpy
    and matplotlib never see None (the analysis nulls CIs it cannot compute)."""
    import numpy as np

    vals = list(values or [])[:n]
    vals += [None] * (n - len(vals))
    return np.array([100 * v if _finite(v) else np.nan for v in vals], dtype=float)
