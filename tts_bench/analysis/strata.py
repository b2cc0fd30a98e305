"""The order strata values are shown in (summary.json keys, hence the report's rows).

Records are written in a seeded shuffled order, so the order values first appear in
`records.jsonl` means nothing. The manifest's `strata_counts` is built in dataset order, so
its key order is the dataset's first-appearance order; values it does not list (an older or
hand-made run directory) follow in natural order: numeric when every value is a number, the
scale's order when every value belongs to one known ordinal scale (easy < medium < hard,
low < medium < high, ...), else alphabetical. The empty label (an item without a value in
that column) comes last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# known ordinal scales, lowest first (values are compared case-insensitively)
SCALES: tuple[tuple[str, ...], ...] = (
    ("trivial", "very easy", "easy", "medium", "hard", "very hard", "expert"),
    ("very low", "low", "medium", "high", "very high"),
    ("tiny", "small", "medium", "large", "huge"),
    ("short", "medium", "long"),
)


def _number(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def natural_order(values: Iterable[str]) -> list[str]:
    """Distinct values in natural order: numeric, a known ordinal scale, else alphabetical;
    the empty label last."""
    given = {str(v) for v in values}
    vals = sorted(given - {""})
    nums = [_number(v) for v in vals]
    if vals and all(x is not None for x in nums):
        vals = [v for _, v in sorted(zip(nums, vals, strict=True))]
    else:
        for scale in SCALES:
            rank = {s: i for i, s in enumerate(scale)}
            if vals and all(v.strip().lower() in rank for v in vals):
                vals.sort(key=lambda v: rank[v.strip().lower()])
                break
    return vals + ([""] if "" in given else [])


def stratum_order(
    values: Iterable[str], manifest: Mapping[str, Any] | None = None, column: str | None = None
) -> list[str]:
    """Distinct `values` of the strata column `column` in display order: first the keys of
    the manifest's `strata_counts[column]` (dataset order) that occur in `values`, then the
    rest in `natural_order`. manifest None (or without that entry): natural order only."""
    seen = list(dict.fromkeys(str(v) for v in values))
    all_counts = (manifest or {}).get("strata_counts")
    counts = all_counts.get(column) if isinstance(all_counts, Mapping) else None
    counts = counts if isinstance(counts, Mapping) else {}
    present = set(seen)
    first = [str(v) for v in counts if str(v) in present]
    return first + natural_order(v for v in seen if v not in set(first))
