"""Number formatting for the report: a missing figure is "—" (not measured), never 0."""

from __future__ import annotations

import math
from typing import Any

NA = "—"


def ok(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.623 -> '62.3%'."""
    return f"{100 * x:.{digits}f}%" if ok(x) else NA


def pts(x: Any, digits: int = 1) -> str:
    """Signed percentage points (already in points): 7.2 -> '+7.2'."""
    return f"{x:+.{digits}f}".replace("-", "−") if ok(x) else NA


def ratio(x: Any) -> str:
    """A multiple: 4.83 -> '4.8×'."""
    if not ok(x):
        return NA
    return f"{x:.2f}×" if x < 1.95 else f"{x:.1f}×"


def usd(x: Any) -> str:
    """Dollars with enough digits for per-request prices."""
    if not ok(x):
        return NA
    if x == 0:
        return "$0"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:.2f}"
    if abs(x) < 0.001:  # two significant digits, fixed notation: $0.000017
        return f"${x:.{1 - math.floor(math.log10(abs(x)))}f}"
    s = f"{x:.4f}".rstrip("0")
    return "$" + (s if len(s.split(".")[1]) >= 2 else f"{x:.2f}")


def time_unit(values: Any) -> str:
    """The one unit for a column of durations in seconds: "s" when any known value is 1 s or
    more, else "ms" (no value known: "ms")."""
    known = [v for v in values if ok(v)]
    return "s" if known and max(known) >= 1 else "ms"


def secs(x: Any, unit: str | None = None) -> str:
    """A duration in seconds as '334 ms' or '1.24 s', never in scientific notation. unit:
    "ms" or "s" to keep a column in one unit (see `time_unit`); None picks per value."""
    if not ok(x):
        return NA
    unit = unit or ("ms" if abs(x) < 1 else "s")
    return f"{_ms(x)} ms" if unit == "ms" else f"{_s(x)} s"


def _ms(x: float) -> str:
    ms = 1000 * x
    return f"{ms:,.1f}" if abs(ms) < 9.95 else f"{ms:,.0f}"


def _s(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 9.995 else f"{x:,.1f}" if abs(x) < 99.95 else f"{x:,.0f}"


def axis_secs(x: Any) -> str:
    """A time-axis tick: '50 ms', '200 ms', '1 s', '2.5 s' (shortest exact form)."""
    if not ok(x):
        return ""
    if abs(x) < 1:
        return f"{1000 * x:.6g} ms"
    return f"{x:.6g} s"


def usd_tick(x: Any) -> str:
    """A cost-axis tick: '$0.00005', '$0.0002', '$0.01', '$1' (shortest exact form, fixed
    notation)."""
    if not ok(x):
        return ""
    if x == 0:
        return "$0"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return "$" + f"{x:.{digits}f}".rstrip("0").rstrip(".")


def per_usd(x: Any) -> str:
    """Accuracy points per dollar per request: 3125.4 -> '3,125', 12.34 -> '12.3'."""
    if not ok(x):
        return NA
    s = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.3g}"
    return s.replace("-", "−")


def ci(lo: Any, hi: Any, f: Any = pct) -> str:
    """'lo..hi' with a formatter; '—' when either side is unknown."""
    if not (ok(lo) and ok(hi)):
        return NA
    return f"{f(lo)}..{f(hi)}"


def pvalue(p: Any) -> str:
    if not ok(p):
        return NA
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def latencies(p50: Any, p95: Any, p99: Any, unit: str | None = None) -> str:
    """P50 / P95 / P99 in one unit: '334 / 528 / 650 ms', '0.61 / 0.97 / 1.14 s'; an unknown
    quantile is '—' in its slot, all unknown is '—'. unit: "ms" or "s" (a column's, from
    `time_unit`); None: "s" when any quantile is 1 s or more."""
    qs = [p50, p95, p99]
    known = [q for q in qs if ok(q)]
    if not known:
        return NA
    unit = unit or time_unit(known)
    num = _ms if unit == "ms" else _s
    return " / ".join(num(q) if ok(q) else NA for q in qs) + f" {unit}"


def tokens(t_in: Any, t_out: Any, t_reasoning: Any, calls: Any) -> str:
    """Mean tokens per request and calls per request: '412 / 96 / 0 tok · 9 calls'."""
    parts = []
    if any(ok(t) for t in (t_in, t_out, t_reasoning)):
        parts.append(" / ".join(f"{t:,.0f}" if ok(t) else NA for t in (t_in, t_out, t_reasoning)))
        parts[-1] += " tok"
    if ok(calls):
        n = f"{calls:.0f}" if abs(calls - round(calls)) < 0.05 else f"{calls:.1f}"
        parts.append(f"{n} call" + ("" if n == "1" else "s"))
    return " · ".join(parts) or NA
