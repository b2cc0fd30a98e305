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


def secs(x: Any) -> str:
    if not ok(x):
        return NA
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def ci(lo: Any, hi: Any, f: Any = pct) -> str:
    """'lo..hi' with a formatter; '—' when either side is unknown."""
    if not (ok(lo) and ok(hi)):
        return NA
    return f"{f(lo)}..{f(hi)}"


def pvalue(p: Any) -> str:
    if not ok(p):
        return NA
    return "<0.001" if p < 0.001 else f"{p:.3f}"
