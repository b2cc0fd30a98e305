"""The run directory: append-only JSONL writers, the manifest, and readers.

`calls.jsonl` and `records.jsonl` are appended and flushed as results arrive; a pair's calls
are written just before its record, so after a crash the calls of unfinished pairs are the
only orphans, and `RunWriter.open(..., resume=True)` drops them (their responses are still in
the cache). A half-written last line (power loss) is ignored by every reader.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tts_bench.errors import UserError
from tts_bench.fsutil import atomic_write_text
from tts_bench.inputcheck import MAX_JSON_DEPTH, check_number, decode_line, parse_json, short
from tts_bench.llm.types import CallRecord

MANIFEST = "manifest.json"
CALLS = "calls.jsonl"
RECORDS = "records.jsonl"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(suite_name: str) -> str:
    """A fresh run id: the suite name (ASCII letters, digits, `-`, `_`), a UTC stamp and a
    random tag, so it is always one safe path component (see `check_run_id`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    slug = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in suite_name)
    return f"{slug[:40]}-{stamp}-{secrets.token_hex(2)}"


_RUN_ID = re.compile(r"[A-Za-z0-9._-]+")


def check_run_id(run_id: str) -> str:
    """`run_id` if it is one path component of letters, digits, `.`, `_`, `-` (not `.` or
    `..`), so a run directory never lands outside `--out`; UserError otherwise."""
    if not _RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
        raise UserError(
            f"--run-id {run_id!r}: use one name of letters, digits, '.', '_' and '-' "
            "(no '/', not '.' or '..')"
        )
    return run_id


# The stdlib's C scanner, called directly: `json.loads` around it costs as much again per line
# of a 100,000-record file. Anything it does not take plainly goes through `parse_json`.
_SCAN = json.JSONDecoder().scan_once
_JSON_WS = " \t\n\r"
# orjson parses a line 3-4x faster than the stdlib, giving the same objects, except that it
# reads an integer past 64 bits as a float: a line with a run of 19 digits skips it (found
# by mapping digits to NUL, which is not valid JSON text itself: faster than a regex).
_DIGITS_TO_NUL = bytes(0 if 48 <= b <= 57 else b for b in range(256))
_LONG_DIGITS = b"\0" * 19


def _fast_object(raw: bytes) -> dict[str, Any] | None:
    """The object on a line that is plainly one (UTF-8, starts with `{`, few brackets, parses
    to the end), else None: the caller then takes the checked path, which says why."""
    if (
        raw[:1] == b"{"
        and raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH
        and _LONG_DIGITS not in raw.translate(_DIGITS_TO_NUL)
    ):
        try:  # what orjson refuses (NaN, lone surrogates, ...) the stdlib decides below
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(obj) is dict:
                return obj
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # below MAX_JSON_DEPTH brackets in all, the depth limit cannot be reached
    if text[:1] != "{" or text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        return None
    try:
        obj, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if type(obj) is not dict or (end != len(text) and text[end:].strip(_JSON_WS)):
        return None
    return obj


def iter_jsonl_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(line number, object)` for the JSON objects of a JSONL file. A torn last line
    (no newline: a crash mid-write) is skipped; any other line that is not UTF-8, not JSON
    (nested at most `MAX_JSON_DEPTH` deep) or not an object is a UserError naming `file:line`."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            obj = _fast_object(raw)
            if obj is not None:
                yield n, obj
                continue
            where = f"{path}:{n}"
            try:
                text = decode_line(raw, where)
                if not text.strip():
                    continue
                obj = parse_json(text, where)
                if not isinstance(obj, dict):
                    raise UserError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            except UserError:
                if not raw.endswith(b"\n"):
                    return  # a half-written last line from a crash: never fatal
                raise
            yield n, obj


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of `iter_jsonl_lines` without their line numbers."""
    for _, obj in iter_jsonl_lines(path):
        yield obj


# What readers rely on in a manifest (each key optional, null allowed); `_check_manifest`
# refuses a manifest of another shape in one line instead of crashing a report later.
_MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "suite": (dict,),
    "status": (str,),
    "configs": (list,),
    "baseline": (str,),
    "strata_counts": (dict,),
    "item_count": (int,),
    "spent_usd": (int, float),
    "seed": (int,),
    "limit": (int,),
    "simulated": (bool,),
    "dataset_fingerprint": (str,),
    "started_at": (str,),
    "finished_at": (str,),
    "sessions": (list,),
    "warnings": (list,),
    "provenance": (dict,),
    "shard": (dict,),  # run --shard i/n (run/schedule.py)
    "partial": (dict,),  # merge --allow-partial: the shards missing or incomplete
}
_SUITE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "configs": (list,),
    "baseline": (str,),
    "dataset": (dict,),
    "scorer": (dict,),
    "analysis": (dict,),
    "gates": (list,),
}


def _kind(types: tuple[type, ...]) -> str:
    return " or ".join(
        {"dict": "an object", "list": "a list"}.get(t.__name__, t.__name__) for t in types
    )


def _check_types(
    obj: dict[str, Any], types: dict[str, tuple[type, ...]], p: Path, prefix: str = ""
) -> None:
    for key, allowed in types.items():
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            got = type(value).__name__
            raise UserError(f"{p}: `{prefix}{key}` must be {_kind(allowed)}, got {got}")


def _check_manifest(m: dict[str, Any], p: Path) -> None:
    _check_types(m, _MANIFEST_TYPES, p)
    suite = m.get("suite") or {}
    _check_types(suite, _SUITE_TYPES, p, "suite.")
    for where, configs in (("configs", m.get("configs")), ("suite.configs", suite.get("configs"))):
        for c in configs or []:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise UserError(f"{p}: `{where}` must hold objects with a `name` string")
    for col, counts in (m.get("strata_counts") or {}).items():
        if not isinstance(counts, dict) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in counts.values()
        ):
            raise UserError(f"{p}: `strata_counts.{col}` must map values to counts")
    for key in ("item_count", "spent_usd"):
        problem = check_number(m.get(key), integer=key == "item_count")
        if problem:
            raise UserError(f"{p}: `{key}` {problem}")
    for key in ("sessions", "warnings"):
        kind = dict if key == "sessions" else str
        if any(not isinstance(x, kind) for x in m.get(key) or []):
            raise UserError(f"{p}: `{key}` must hold {'objects' if kind is dict else 'strings'}")


def read_manifest(run_dir: Path | str) -> dict[str, Any]:
    """The run's manifest, its shape checked (`_MANIFEST_TYPES`); UserError when the directory
    is not a run directory or the manifest is unreadable or of another shape."""
    p = Path(run_dir) / MANIFEST
    if not p.is_file():
        raise UserError(f"{run_dir}: not a run directory (no {MANIFEST})")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{p}:{line}: unreadable manifest (not UTF-8 text)") from None
    manifest = parse_json(text, str(p))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("suite", {}), dict):
        raise UserError(f"{p}: not a run manifest (expected an object with a `suite` object)")
    _check_manifest(manifest, p)
    return manifest


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Atomic replace, so a crash never leaves a half manifest."""
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")


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
            if v < 0:
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


def _known_configs(run_dir: Path) -> set[str] | None:
    """Config names the manifest lists (its `configs` and its suite's), or None when there is
    no manifest to check against."""
    if not (run_dir / MANIFEST).is_file():
        return None
    m = read_manifest(run_dir)
    listed = [*(m.get("configs") or []), *((m.get("suite") or {}).get("configs") or [])]
    if "configs" not in m and "configs" not in (m.get("suite") or {}):
        return None
    return {c["name"] for c in listed}


def _key(rec: dict[str, Any], where: str) -> tuple[str, str]:
    for field in ("item_id", "config"):
        value = rec.get(field)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
            raise UserError(f"{where}: `{field}` missing or not a string")
    return str(rec["item_id"]), str(rec["config"])


def load_records(run_dir: Path | str) -> list[dict[str, Any]]:
    """Records as dicts; for a repeated (item, config) the last line wins. The winning lines
    are checked (`_check_record`: types, finite non-negative figures, a config the manifest
    knows); UserError naming `file:line` otherwise."""
    rd = Path(run_dir)
    path = rd / RECORDS
    latest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for n, rec in iter_jsonl_lines(path):
        latest[_key(rec, f"{path}:{n}")] = (n, rec)
    known = _known_configs(rd) if latest else None
    for n, rec in latest.values():
        _check_record(rec, f"{path}:{n}", known)
    return [rec for _, rec in latest.values()]


def load_calls(run_dir: Path | str) -> list[dict[str, Any]]:
    """calls.jsonl as dicts, figures checked like a record's (UserError naming `file:line`)."""
    path = Path(run_dir) / CALLS
    out = []
    for n, call in iter_jsonl_lines(path):
        if not (_fields_ok(call, _CALL_TYPES) and _figures_ok(call, None)):
            _check_fields(call, _CALL_TYPES, f"{path}:{n}")
            _check_figures(call, f"{path}:{n}")
        out.append(call)
    return out


def read_records(run_dir: Path | str):  # -> pandas.DataFrame (pandas imported lazily)
    import pandas as pd

    return pd.DataFrame(load_records(run_dir))


def read_calls(run_dir: Path | str):  # -> pandas.DataFrame
    import pandas as pd

    return pd.DataFrame(load_calls(run_dir))


def sample_line(answer: str | None, scored: Any, s: Any) -> dict[str, Any]:
    """One entry of a record's `samples` pool (design.md): the answer, its score against the
    target (`scored`: a ScoreResult, or None when the sample is unscored) and the sample's own
    selector score, cost, latency, tokens, status and finish reason (attributes of `s`)."""
    return {
        "answer": answer,
        "correct": None if scored is None else scored.correct,
        "value": None if scored is None else scored.value,
        "score": s.score,
        "cost_usd": s.cost_usd,
        "latency_s": s.latency_s,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "reasoning_tokens": s.reasoning_tokens,
        "status": s.status,
        "finish_reason": s.finish_reason,
    }


class RunWriter:
    """Appends calls and records to a run directory, flushing every line. The caller holds
    the run directory's lock (`fsutil.RunLock`): nothing else appends to these files."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._calls = (run_dir / CALLS).open("a", encoding="utf-8")
        self._records = (run_dir / RECORDS).open("a", encoding="utf-8")

    @staticmethod
    def finished(run_dir: Path) -> set[tuple[str, str]]:
        """The (item, config) pairs with a scored (status ok) record; reads only."""
        return {
            (str(r["item_id"]), str(r["config"]))
            for r in load_records(run_dir)
            if r.get("status", "ok") == "ok"
        }

    @classmethod
    def open(cls, run_dir: Path, *, resume: bool) -> tuple[RunWriter, set[tuple[str, str]]]:
        """Open for appending; on resume, return the finished (item, config) pairs after
        dropping torn lines, records of infrastructure failures and the calls of every pair
        not finished. A new run starts from empty files."""
        run_dir.mkdir(parents=True, exist_ok=True)
        done: set[tuple[str, str]] = set()
        if resume:
            # Infrastructure failures (rate limits, timeouts, dead endpoints) are not
            # results: a resume runs those pairs again.
            records = [r for r in load_records(run_dir) if r.get("status", "ok") == "ok"]
            done = {(str(r["item_id"]), str(r["config"])) for r in records}
            _rewrite(run_dir / RECORDS, records)
            calls = [
                c
                for c in load_calls(run_dir)
                if (str(c.get("item_id")), str(c.get("config"))) in done
            ]
            _rewrite(run_dir / CALLS, calls)
        else:
            for name in (CALLS, RECORDS):
                (run_dir / name).unlink(missing_ok=True)
        return cls(run_dir), done

    def write_pair(self, calls: list[CallRecord], record: dict[str, Any]) -> None:
        for c in calls:
            self._calls.write(json.dumps(asdict(c), default=str) + "\n")
        self._calls.flush()
        self._records.write(json.dumps(record, default=str) + "\n")
        self._records.flush()

    def close(self) -> None:
        self._calls.close()
        self._records.close()


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace `path` atomically with `rows` as JSONL (a temp file and a rename)."""
    atomic_write_text(path, "".join(json.dumps(row, default=str) + "\n" for row in rows))
