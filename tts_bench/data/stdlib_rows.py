"""Local .jsonl/.json/.csv rows read with the standard library, exactly as `datasets` would
give them (column order, nulls for missing keys, ints widened beside floats, pandas' CSV types
and missing markers). Each reader returns None where that is not certain (timestamp-like text,
mixed types, unusual CSV, integers past 64 bits): the caller then lets `datasets` read the
file. Reading this way skips importing pandas, pyarrow and datasets (about 0.65 s) and uses a
third of the memory.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from pathlib import Path
from typing import Any


class _Unsure(Exception):
    """The stdlib reading might differ from what `datasets` gives: let `datasets` read it."""


_DATE_LIKE = re.compile(r"\s*[+-]?\d{4,}-\d\d?-\d")  # pyarrow reads these as timestamps
_INT64 = 2**63


def _widens(kind: Any) -> bool:
    """Whether a column of this kind may hold ints that pyarrow turns into floats."""
    if isinstance(kind, tuple):
        subs = [kind[1]] if kind[0] == "list" else [sub for _, sub in kind[1]]
        return any(map(_widens, subs))
    return kind == "float"


def _coerce(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if kind == "float":
        return float(value)
    if isinstance(kind, tuple) and kind[0] == "list":
        return [_coerce(x, kind[1]) for x in value]
    if isinstance(kind, tuple):
        return {k: _coerce(value[k], sub) for k, sub in kind[1]}
    return value


def _column_kind(values: list[Any]) -> Any:
    """pyarrow's type for a column of JSON values: None (all null), "bool", "int", "float"
    (ints widen to it), "str", ("list", element kind) or ("struct", ((key, kind), ...)).
    _Unsure for what datasets stores as JSON text or pyarrow reads otherwise: mixed types,
    structs with differing fields, timestamp-like text, non-finite or 64-bit-overflowing
    numbers."""
    present = [v for v in values if v is not None]
    types = set(map(type, present))
    if types == {str}:
        if any(map(_DATE_LIKE.match, present)):
            raise _Unsure
        return "str"
    if types and types <= {int, float}:
        ints = [v for v in present if type(v) is int]
        if ints and not (-_INT64 <= min(ints) and max(ints) < _INT64):
            raise _Unsure
        if float not in types:
            return "int"
        if not all(map(math.isfinite, (v for v in present if type(v) is float))):
            raise _Unsure
        return "float"
    if types == {bool}:
        return "bool"
    if types == {list}:
        return ("list", _column_kind([x for v in present for x in v]))
    if types == {dict}:
        keys = tuple(present[0])
        if not keys or any(tuple(v) != keys for v in present):
            raise _Unsure
        return ("struct", tuple((k, _column_kind([v[k] for v in present])) for k in keys))
    if types:
        raise _Unsure
    return None


def like_arrow(rows: list[dict]) -> list[dict] | None:
    """JSON rows as datasets returns them (columns in order of first appearance, a missing
    key null, ints widened to float in a column that also holds floats), or None where that
    is not certain."""
    names = tuple(dict.fromkeys(k for row in rows for k in row))
    columns = []
    widened = False
    try:
        for name in names:
            values = [row.get(name) for row in rows]
            kind = _column_kind(values)
            if _widens(kind):
                values = [_coerce(v, kind) for v in values]
                widened = True
            columns.append(values)
    except _Unsure:
        return None
    if not widened and all(tuple(row) == names for row in rows):
        return rows  # already complete and in column order
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def json_rows(text: str) -> list[dict] | None:
    """A .json file that is one array of objects or JSON lines, as datasets reads it."""
    try:
        rows = json.loads(text)
    except ValueError:
        rows = None
    if not isinstance(rows, list):  # (a multi-line single object: datasets' own rules)
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            return None
    if not rows or not all(isinstance(r, dict) for r in rows):
        return None
    return like_arrow(rows)


# pandas' default missing-value markers (read_csv's keep_default_na)
_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"}
_NA |= {"1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
_BOOL = {"True": True, "TRUE": True, "true": True, "False": False, "FALSE": False}
_BOOL["false"] = False
# (not \d: pandas reads other scripts' digits as text)
_INT = re.compile(r"[+-]?[0-9]+\Z")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_CSV_CHUNK = 10_000  # rows per pandas chunk in datasets' CSV reader (types inferred per chunk)


@functools.cache
def _pandas_rounds_like_float() -> bool:
    """Whether the installed pandas parses long decimals as `float()` does: pandas 3 uses
    fast_float (correctly rounded); older versions' own parser can be an ulp off past 15
    significant digits (up to 15, every parser is exact)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("pandas").split(".")[0]) >= 3
    except (PackageNotFoundError, ValueError):
        return False


def _is_text(cell: str) -> bool:
    """A cell pandas can only read as text (so its whole column stays text)."""
    if cell in _BOOL or _NUMBER.match(cell):
        return False
    try:
        float(cell)  # " 5", "1e3", "inf", "1_0": maybe a number to pandas
    except ValueError:
        return True
    return False


def _csv_column(cells: list[str]) -> tuple[str | None, list[Any]]:
    """pandas' type for one column ("int", "float", "bool", "str", or None when every cell
    is missing) and its values as pyarrow gives them back; _Unsure where pandas' own rules
    would decide. Checked on the distinct cells, with builtins, not a call per cell."""
    values = [None if c in _NA else c for c in cells]
    distinct = set(values)
    distinct.discard(None)
    if not distinct:
        return None, values
    if any(c.strip() in _NA or c.strip() in _BOOL for c in distinct if c != c.strip()):
        raise _Unsure  # " NA", "True ": pandas' own rules
    missing = None in values
    if all(map(_NUMBER.match, distinct)):
        ints = [int(c) for c in distinct if _INT.match(c)]
        if ints and not (-_INT64 <= min(ints) and max(ints) < _INT64):
            raise _Unsure  # past 64 bits pandas keeps text, or not
        if len(ints) == len(distinct) and not missing:
            return "int", list(map(int, cells))
        if not _pandas_rounds_like_float() and any(
            len(c.lstrip("+-0.").replace(".", "")) > 15 for c in distinct
        ):
            raise _Unsure
        return "float", [None if v is None else float(v) for v in values]
    if distinct <= _BOOL.keys():
        return "bool", [None if v is None else _BOOL[v] for v in values]
    if any(map(_is_text, distinct)):  # pandas keeps a column with any text as its text
        return "str", values
    raise _Unsure  # booleans among numbers, exponents, "inf": pandas' own rules


def csv_rows(path: Path) -> list[dict] | None:
    """A CSV file as datasets (pandas, then pyarrow) reads it, or None where that is not
    certain: ragged rows, unnamed or repeated columns, quoting errors, unusual numbers."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            lines = [r for r in csv.reader(f, strict=True) if r]
    except csv.Error:
        return None
    if len(lines) < 2:
        return None
    header, body = lines[0], lines[1:]
    if len(set(header)) != len(header) or "" in header:
        return None
    if any(len(r) != len(header) or (not "".join(r).strip() and "".join(r)) for r in body):
        return None  # ragged, or a line of blanks (pandas may skip it)
    columns: dict[str, list[Any]] = {}
    try:
        for j, name in enumerate(header):
            kind, values = None, []
            for start in range(0, len(body), _CSV_CHUNK):
                chunk_kind, chunk = _csv_column([r[j] for r in body[start : start + _CSV_CHUNK]])
                if start and chunk_kind != kind:
                    raise _Unsure  # chunks typed differently: let datasets reconcile them
                kind = chunk_kind
                values += chunk
            columns[name] = values
    except _Unsure:
        return None
    return [dict(zip(header, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]
