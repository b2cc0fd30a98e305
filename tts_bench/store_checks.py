"""The checks a run file's lines pass before any reader relies on them (design.md's record
contract): field types, finite non-negative figures (counts whole), a config the manifest
knows. Fast paths (`_fields_ok`, `_figures_ok`, `_record_ok`) find the common case without
building a message; the full rules name the problem in one line."""

from __future__ import annotations

import sys
from itertools import chain
from operator import itemgetter
from typing import Any

from tts_bench.errors import UserError
from tts_bench.inputcheck import check_number, short

# Field types every reader relies on (design.md's record contract); a record file edited by
# hand or written by another tool is checked here once, not crashed on later.
_NUMBER = (int, float)
_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "correct": (bool,),
    "score": _NUMBER,
    "cost_usd": _NUMBER,
    "eval_cost_usd": _NUMBER,  # a judged suite's evaluation cost; absent elsewhere (= 0)
    "latency_s": _NUMBER,
    "strata": (dict,),
    "samples": (list,),
    "info": (dict,),
    "metrics": (dict,),
    "status": (str,),
    "failure": (str,),
    "answer": (str,),
    "model": (str,),
    "strategy": (str,),
    "cluster": (str, int),
}
_SAMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "answer": (str,),
    "correct": (bool,),
    "value": _NUMBER,
    "score": _NUMBER,
    "status": (str,),
    "finish_reason": (str,),
}
_CALL_TYPES: dict[str, tuple[type, ...]] = {
    "role": (str,),
    "model": (str,),
    "status": (str,),
    "text": (str,),
    "error": (str,),
    "sample_index": (int,),
    "cache_hit": (bool,),
}
# Figures that are sums, durations or counts: finite and non-negative (null = unknown).
_AMOUNTS = (
    "cost_usd",
    "eval_cost_usd",
    "latency_s",
    "wall_s",
    "ttft_s",
    "output_tps",
    "started_s",
    "score",
    "value",
    "confidence",
)
_COUNTS = (
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "n_calls",
    "eval_calls",
    "eval_input_tokens",
    "eval_output_tokens",
)


_FIGURES = (*_AMOUNTS, *_COUNTS)
_INF = float("inf")
_FLOAT_MAX = sys.float_info.max


def _figures_ok(obj: dict[str, Any], skip: str | None) -> bool:
    """The common case of `_check_figures`, fast: every figure null, a non-negative int, or a
    finite non-negative float (whole for counts). Reading 100,000 samples back goes through
    here, so the message-building rule runs only when this says no."""
    for key in _FIGURES:
        v = obj.get(key)
        if v is None or key == skip:
            continue
        t = type(v)
        if t is int:
            if v < 0 or v > _FLOAT_MAX:  # past a float's range: no figure downstream holds it
                return False
        elif t is float:
            if not 0.0 <= v < _INF or (key in _COUNTS and not v.is_integer()):
                return False  # NaN fails the comparison too
        else:
            return False
    c = obj.get("confidence")
    return c is None or skip == "confidence" or c <= 1


def _check_figures(obj: dict[str, Any], where: str, skip: str | None = None) -> None:
    """Figures finite and non-negative (counts whole), confidence at most 1; `skip` names a
    key that is not a figure here (a sample's selector `score` may be a log-probability)."""
    if _figures_ok(obj, skip):
        return
    for key in _FIGURES:
        if key == skip:
            continue
        problem = check_number(obj.get(key), integer=key in _COUNTS)
        if problem:
            raise UserError(f"{where}: `{key}` {problem}")
    if (obj.get("confidence") or 0) > 1:
        raise UserError(f"{where}: `confidence` must be at most 1, got {obj['confidence']!r}")


def _fields_ok(obj: dict[str, Any], types: dict[str, tuple[type, ...]]) -> bool:
    """`_check_fields` would pass (the common case: exactly the type JSON gives)."""
    get = obj.get
    for key, allowed in types.items():
        value = get(key)
        if value is not None and type(value) not in allowed:
            return False  # the full rule decides (and names the problem)
    return True


def _check_fields(obj: dict[str, Any], types: dict[str, tuple[type, ...]], where: str) -> None:
    if _fields_ok(obj, types):
        return
    for key, allowed in types.items():
        value = obj.get(key)
        if value is None or type(value) in allowed:
            continue  # the common case: exactly the type JSON gives (bool is never an int here)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise UserError(
                f"{where}: `{key}` must be "
                f"{' or '.join(t.__name__ for t in allowed)} or null, got {type(value).__name__}"
            )


def _record_ok(rec: dict[str, Any], known: set[str] | None) -> bool:
    """`_check_record` would pass, found without building a message (the common case)."""
    if not (_fields_ok(rec, _RECORD_TYPES) and _figures_ok(rec, None)):
        return False
    strata = rec.get("strata")
    if strata and any(type(v) in (dict, list) for v in strata.values()):
        return False
    if known is not None and str(rec["config"]) not in known:
        return False
    for sample in rec.get("samples") or ():
        if type(sample) is not dict:
            return False
        if not (_fields_ok(sample, _SAMPLE_TYPES) and _figures_ok(sample, "score")):
            return False
    return True


def _check_record(rec: dict[str, Any], where: str, known: set[str] | None) -> None:
    if _record_ok(rec, known):
        return
    where = f"{where}: record {short(rec['item_id'])}/{short(rec['config'])}"
    _check_fields(rec, _RECORD_TYPES, where)
    _check_figures(rec, where)
    for col, value in (rec.get("strata") or {}).items():
        if isinstance(value, (dict, list)):
            raise UserError(f"{where}: `strata.{col}` must be a label, got {type(value).__name__}")
    if known is not None and str(rec["config"]) not in known:
        raise UserError(
            f"{where}: config {short(rec['config'])} is not in the manifest "
            f"({', '.join(sorted(known)) or 'none'})"
        )
    for j, sample in enumerate(rec.get("samples") or []):
        if not isinstance(sample, dict):
            raise UserError(f"{where}: `samples` must hold objects")
        _check_fields(sample, _SAMPLE_TYPES, f"{where}: samples[{j}]")
        # a sample's `score` is a selector's (a log-probability may be negative)
        _check_figures(sample, f"{where}: samples[{j}]", skip="score")


# Batch checks: `objects_ok` / `records_ok` say whether every object of a list passes the fast
# path above, column by column (one pass per field, not a Python loop per object), and agree
# with it (tests/test_batch_checks.py): a no sends the caller to the per-object path, which
# finds the line and its message.
_NONE = type(None)
_FIGURE_TYPES = frozenset((_NONE, int, float))
_COUNT_KEYS = frozenset(_COUNTS)


def _figure_column_ok(column: tuple[Any, ...], kinds: set[type], key: str) -> bool:
    """Every value of a figure column null or non-negative and finite (whole for a count),
    and at most 1 for `confidence`; `kinds` is the set of the values' types."""
    import numpy as np  # here, not at import: most commands never read a run file

    if not kinds <= _FIGURE_TYPES:
        return False
    values = [v for v in column if v is not None] if _NONE in kinds else column
    if not values:
        return True
    if float not in kinds:  # ints only: exact at any size, and within a float's range
        high = max(values)
        return min(values) >= 0 and high <= _FLOAT_MAX and (key != "confidence" or high <= 1)
    try:
        arr = np.array(values, dtype=np.float64)
    except OverflowError:  # an int past float range: refused, as per object
        return False
    low, high = arr.min(), arr.max()  # NaN carries through both and fails below
    if not (low >= 0 and high < _INF):
        return False
    if key in _COUNT_KEYS and not (np.floor(arr) == arr).all():
        return False
    return key != "confidence" or high <= 1


def _column_groups(
    objs: list[dict[str, Any]], wanted: set[str]
) -> list[dict[str, tuple[Any, ...]]]:
    """The columns of the `wanted` fields, one dict per set of keys the objects have (a
    file's objects mostly share one: then as many keys as the first, all of the first's, is
    the same set, proven without building a tuple of keys per object)."""
    keys = tuple(objs[0])
    if len(keys) > 1 and list(map(len, objs)).count(len(keys)) == len(objs):
        try:
            rows = list(map(itemgetter(*keys), objs))
        except KeyError:
            pass
        else:
            return [
                {
                    k: col
                    for k, col in zip(keys, zip(*rows, strict=True), strict=True)
                    if k in wanted
                }
            ]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for obj in objs:
        groups.setdefault(tuple(obj), []).append(obj)
    out = []
    for keys, group in groups.items():
        present = [k for k in keys if k in wanted]
        out.append({k: tuple(map(itemgetter(k), group)) for k in present})
    return out


def objects_ok(
    objs: list[dict[str, Any]],
    types: dict[str, tuple[type, ...]],
    skip: str | None,
    extra: tuple[str, ...] = (),
) -> dict[str, list[tuple[Any, ...]]] | None:
    """The columns of the `extra` fields (one tuple per key set) when every object passes
    `_fields_ok(obj, types)` and `_figures_ok(obj, skip)`, else None. `skip` names a key that
    is no figure here."""
    out: dict[str, list[tuple[Any, ...]]] = {key: [] for key in extra}
    if not objs:
        return out
    wanted = {*types, *_FIGURES, *extra} - ({skip} - set(types))
    for columns in _column_groups(objs, wanted):
        for key, column in columns.items():
            kinds = set(map(type, column))
            allowed = types.get(key)
            if allowed is not None and not kinds <= {_NONE, *allowed}:
                return None
            if key in _FIGURES and key != skip and not _figure_column_ok(column, kinds, key):
                return None
        for key in extra:
            out[key].append(columns.get(key, ()))
    return out


def records_ok(recs: list[dict[str, Any]], known: set[str] | None) -> bool:
    """`_record_ok` for every record of `recs` (each has its `config`), column by column."""
    columns = objects_ok(recs, _RECORD_TYPES, None, ("strata", "config", "samples"))
    if columns is None:
        return False
    labels = chain.from_iterable(
        map(dict.values, filter(None, chain.from_iterable(columns["strata"])))
    )
    if not {dict, list}.isdisjoint(map(type, labels)):
        return False
    if known is not None and not set(map(str, chain.from_iterable(columns["config"]))) <= known:
        return False
    samples = list(chain.from_iterable(filter(None, chain.from_iterable(columns["samples"]))))
    if not set(map(type, samples)) <= {dict}:
        return False
    return objects_ok(samples, _SAMPLE_TYPES, "score") is not None
