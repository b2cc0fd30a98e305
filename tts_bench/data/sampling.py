"""Stratified sampling: integer allocation per stratum and the `tts-bench sample` verb.

`allocate` splits a sample size across strata (proportional or equal, with a per-stratum
minimum, capped by each stratum's population) using largest remainders, so the allocation
sums exactly to the size. `stratified_sample` draws that many rows from each stratum with a
generator seeded by (seed, stratum), so one stratum's draw does not depend on the others.
`sample_file` reads a table, optionally dedups and bins it, samples it and writes a file that
loads directly as a suite dataset.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from tts_bench.errors import UserError

Allocation = Literal["proportional", "equal"]
WARN_BELOW = 100  # items overall / per stratum below which estimates get wide


def allocate(
    populations: Sequence[int], size: int, *, weights: Sequence[float], minimum: int = 0
) -> list[int]:
    """Integers a_s with min(minimum, n_s) <= a_s <= n_s, sum a_s == size, otherwise
    proportional to `weights` (largest remainder; ties go to the stratum with fewer items,
    then the earlier one).
    """
    total = sum(populations)
    if size > total:
        raise UserError(f"sample size {size} is more than the population of {total}")
    lower = [min(minimum, n) for n in populations]
    if sum(lower) > size:
        raise UserError(
            f"min_per_stratum {minimum} x {len(populations)} strata needs {sum(lower)} items, "
            f"more than the sample size {size}"
        )
    x = _water_fill(populations, size, weights, lower)
    alloc = [math.floor(v) for v in x]
    rest = size - sum(alloc)
    # largest remainder; ties favour the stratum with fewer items so far, so a rare stratum
    # is not rounded away. Every positive remainder has room: x_s < n_s when x_s % 1 > 0.
    order = sorted(
        (s for s in range(len(x)) if x[s] > alloc[s]), key=lambda s: (alloc[s] - x[s], alloc[s], s)
    )
    for s in order[:rest]:
        alloc[s] += 1
    return alloc


def _water_fill(
    upper: Sequence[int], size: int, weights: Sequence[float], lower: Sequence[int]
) -> list[Fraction]:
    """Exact x_s = clip(lam * w_s, lower_s, upper_s) with sum x_s == size (lam found among the
    breakpoints lower_s/w_s, upper_s/w_s; the sum is piecewise linear and nondecreasing)."""
    w = [Fraction(v) for v in weights]
    if all(v == 0 for v in w):
        w = [Fraction(1)] * len(w)

    def filled(lam: Fraction) -> list[Fraction]:
        return [
            min(Fraction(u), max(Fraction(lo), lam * ws))
            for u, lo, ws in zip(upper, lower, w, strict=True)
        ]

    points = sorted(
        {
            Fraction(b) / ws
            for b_s, ws in zip(zip(lower, upper, strict=True), w, strict=True)
            if ws > 0
            for b in b_s
        }
    )
    lo_i, hi_i = 0, len(points) - 1  # sum(filled(points[0])) <= size <= sum(filled(points[-1]))
    if sum(filled(points[lo_i])) >= size:
        return (
            filled(points[lo_i])
            if sum(filled(points[lo_i])) == size
            else list(map(Fraction, lower))
        )
    while hi_i - lo_i > 1:
        mid = (lo_i + hi_i) // 2
        if sum(filled(points[mid])) <= size:
            lo_i = mid
        else:
            hi_i = mid
    a, b = points[lo_i], points[hi_i]
    fa, fb = sum(filled(a)), sum(filled(b))
    lam = a if fb == fa else a + (b - a) * (size - fa) / (fb - fa)
    return filled(lam)


def _key(row: Mapping[str, Any], by: Sequence[str]) -> tuple[str, ...]:
    out = []
    for col in by:
        v = row.get(col)
        out.append("missing" if v is None else str(v))
    return tuple(out)


def strata_of(rows: Sequence[Mapping[str, Any]], by: Sequence[str]) -> dict[tuple, list[int]]:
    """Row indices per stratum key (a tuple of string values of `by`), keys sorted."""
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(_key(row, by), []).append(i)
    return dict(sorted(groups.items()))


def stratified_sample(
    rows: Sequence[Mapping[str, Any]],
    *,
    by: list[str],
    size: int,
    seed: int,
    allocation: Allocation = "proportional",
    min_per_stratum: int = 0,
    where: str = "sample",
) -> list[int]:
    """Sorted row indices of a stratified random sample.

    by: columns whose (stringified) values define the strata ([] = one stratum);
    size: total sample size (must not exceed len(rows)); seed: same seed, same sample;
    allocation: "proportional" to stratum population or "equal" per stratum;
    min_per_stratum: each stratum gets at least this many (or all it has).
    """
    if size <= 0:
        raise UserError(f"{where}: sample size must be positive, got {size}")
    if size > len(rows):
        raise UserError(f"{where}: sample size {size} is more than the {len(rows)} items")
    groups = strata_of(rows, by)
    pops = [len(v) for v in groups.values()]
    weights = [float(n) for n in pops] if allocation == "proportional" else [1.0] * len(pops)
    try:
        counts = allocate(pops, size, weights=weights, minimum=min_per_stratum)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    picked: list[int] = []
    for (key, idx), k in zip(groups.items(), counts, strict=True):
        rng = random.Random(f"{seed}|{'|'.join(key)}")
        picked.extend(rng.sample(idx, k))
    return sorted(picked)


# ---- the `tts-bench sample` verb -------------------------------------------------------


@dataclass
class StratumRow:
    stratum: dict[str, str]
    population: int
    sampled: int
    share: float  # sampled / sample size
    population_share: float  # population / population size


@dataclass
class SampleReport:
    """What `sample_file` did: per-stratum table and warnings (small strata, small sample)."""

    out: Path
    population: int
    sampled: int
    by: list[str]
    strata: list[StratumRow]
    dropped_duplicates: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def table(self) -> list[dict[str, Any]]:
        """Rows for printing, one per stratum: `stratum` (values joined by "/"), each strata
        column, population, sampled, share (of the sample), population_share."""
        return [
            {
                "stratum": "/".join(r.stratum.values()) or "all",
                **r.stratum,
                "population": r.population,
                "sampled": r.sampled,
                "share": r.share,
                "population_share": r.population_share,
            }
            for r in self.strata
        ]

    def format(self) -> str:
        """A plain-text table plus warnings."""
        cols = self.by or ["stratum"]
        head = [*cols, "population", "sampled", "share"]
        body = [
            [*(r.stratum.values() or ["all"]), str(r.population), str(r.sampled), f"{r.share:.1%}"]
            for r in self.strata
        ]
        pad = [""] * (len(cols) - 1)
        body.append(["total", *pad, str(self.population), str(self.sampled), "100%"])
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)) for row in [head, *body]
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(s.rstrip() for s in lines)


def _norm_text(v: Any) -> str:
    return re.sub(r"\s+", " ", str(v)).strip().casefold()


def _dedup(rows: list[dict], column: str, source: str) -> list[dict]:
    if column not in rows[0] and all(column not in r for r in rows):
        raise UserError(f"{source}: --dedup column {column!r} not in data")
    seen: set[str] = set()
    out = []
    for r in rows:
        k = _norm_text(r.get(column))
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def _bin(rows: list[dict], column: str, q: int, source: str) -> str:
    """Add `<column>_bin` with quantile labels q1..qk (k <= q when values tie); null -> missing."""
    import pandas as pd

    if q < 2:
        raise UserError(f"{source}: --bin {column}:{q}: need at least 2 bins")
    values = pd.to_numeric(pd.Series([r.get(column) for r in rows]), errors="coerce")
    if values.notna().sum() == 0:
        raise UserError(f"{source}: --bin column {column!r} has no numeric values")
    codes = pd.qcut(values, q, labels=False, duplicates="drop")
    name = f"{column}_bin"
    for r, c in zip(rows, codes, strict=True):
        r[name] = "missing" if pd.isna(c) else f"q{int(c) + 1}"
    return name


def write_table(rows: Sequence[Mapping[str, Any]], out: Path) -> None:
    """Write rows as JSONL, or CSV / Parquet by suffix."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".jsonl", ".json"):
        with out.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        return
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        raise UserError(f"{out}: unsupported output type {suffix!r} (use .jsonl, .csv, .parquet)")


def sample_file(
    input: str,
    *,
    by: list[str],
    size: int,
    out: Path,
    seed: int = 0,
    allocation: Allocation = "proportional",
    min_per_stratum: int = 0,
    dedup: str | None = None,
    bins: dict[str, int] | None = None,
) -> SampleReport:
    """Stratified sample of a table (path, hf:owner/name or builtin:name) written to `out`.

    dedup: text column; rows whose whitespace/case-normalised text repeats are dropped first.
    bins: {column: k}: add `<column>_bin` = quantile labels q1..qk; a binned column named in
    `by` stratifies on its bins (the raw numbers would make one stratum per value).
    A row without an `id` column gets `id` = its 0-based row index in the input, so the
    output loads as a suite dataset with the default field map.
    """
    from tts_bench.data.loader import read_table

    out = Path(out)
    if out.suffix.lower() not in (".jsonl", ".json", ".csv", ".parquet"):
        raise UserError(
            f"{out}: unsupported output type {out.suffix!r} (use .jsonl, .csv, .parquet)"
        )
    rows = [dict(r) for r in read_table(input)]
    if all("id" not in r for r in rows):
        rows = [{"id": str(i), **r} for i, r in enumerate(rows)]
    n_before = len(rows)
    if dedup:
        rows = _dedup(rows, dedup, input)
    for col, q in (bins or {}).items():
        if all(col not in r for r in rows):
            raise UserError(f"{input}: --bin column {col!r} not in data")
        _bin(rows, col, q, input)
    by = [f"{c}_bin" if c in (bins or {}) else c for c in by]
    for col in by:
        if all(col not in r for r in rows):
            cols = ", ".join(dict.fromkeys(k for r in rows[:1000] for k in r))
            raise UserError(f"{input}: --by column {col!r} not in data (columns: {cols})")
    if size > len(rows):
        after = " after dedup" if len(rows) < n_before else ""
        raise UserError(f"{input}: --size {size} is more than the {len(rows)} rows{after}")
    picked = stratified_sample(
        rows,
        by=by,
        size=size,
        seed=seed,
        allocation=allocation,
        min_per_stratum=min_per_stratum,
        where=input,
    )
    write_table([rows[i] for i in picked], out)

    groups = strata_of(rows, by)
    chosen = set(picked)
    table = [
        StratumRow(
            stratum=dict(zip(by, key, strict=True)),
            population=len(idx),
            sampled=sum(i in chosen for i in idx),
            share=sum(i in chosen for i in idx) / size,
            population_share=len(idx) / len(rows),
        )
        for key, idx in groups.items()
    ]
    warnings = []
    if size < WARN_BELOW:
        warnings.append(f"{size} items overall (< {WARN_BELOW}): confidence intervals will be wide")
    small = [r for r in table if r.sampled < WARN_BELOW and by]
    if small:
        names = ", ".join("/".join(r.stratum.values()) + f" ({r.sampled})" for r in small[:8])
        more = f" and {len(small) - 8} more" if len(small) > 8 else ""
        warnings.append(f"strata with < {WARN_BELOW} items: {names}{more}")
    return SampleReport(
        out=out,
        population=len(rows),
        sampled=len(picked),
        by=list(by),
        strata=table,
        dropped_duplicates=n_before - len(rows),
        warnings=warnings,
    )
