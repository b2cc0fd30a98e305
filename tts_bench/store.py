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
from operator import itemgetter
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.fsutil import atomic_write_text
from tts_bench.inputcheck import check_number, parse_json
from tts_bench.jsonl import (  # noqa: F401 (re-exported)
    _fast_object,
    iter_jsonl,
    iter_jsonl_blocks,
    iter_jsonl_lines,
    read_jsonl_lines,
)
from tts_bench.llm.types import CallRecord
from tts_bench.store_checks import (  # noqa: F401 (re-exported: tests check the fast paths)
    _CALL_TYPES,
    _COUNTS,
    _FIGURES,
    _RECORD_TYPES,
    _SAMPLE_TYPES,
    _check_fields,
    _check_figures,
    _check_record,
    _fields_ok,
    _figures_ok,
    objects_ok,
    records_ok,
)

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


def _records_ok_but_config(recs: list[dict[str, Any]]) -> bool:
    """`records_ok` short of the manifest's configs (checked once the winning lines are
    known, `_configs_known`)."""
    return records_ok(recs, None)


def _configs_known(records: list[dict[str, Any]], known: set[str] | None) -> bool:
    """Every record's config is one the manifest knows (or there is no list to check)."""
    return known is None or set(map(str, map(itemgetter("config"), records))) <= known


def _calls_ok(calls: list[dict[str, Any]]) -> bool:
    """Every call passes `_fields_ok` with `_CALL_TYPES` and `_figures_ok`."""
    return objects_ok(calls, _CALL_TYPES, None) is not None


def load_records(run_dir: Path | str) -> list[dict[str, Any]]:
    """Records as dicts; for a repeated (item, config) the last line wins. The winning lines
    are checked (`_check_record`: types, finite non-negative figures, a config the manifest
    knows); UserError naming `file:line` otherwise."""
    rd = Path(run_dir)
    path = rd / RECORDS
    read = read_jsonl_lines(path, _records_ok_but_config)
    latest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for n, rec in zip(read.numbers, read.objects, strict=True):
        item, config = rec.get("item_id"), rec.get("config")
        if type(item) is str and type(config) is str and item and config:
            latest[item, config] = (n, rec)  # the common case of `_key`, without a call
        else:
            latest[_key(rec, f"{path}:{n}")] = (n, rec)
    if read.error is not None:
        raise read.error
    known = _known_configs(rd) if latest else None
    records = [rec for _, rec in latest.values()]
    if not (read.passed and _configs_known(records, known)):  # one fails: find it line by line
        for n, rec in latest.values():
            _check_record(rec, f"{path}:{n}", known)
    return records


def iter_calls(run_dir: Path | str) -> Iterator[dict[str, Any]]:
    """calls.jsonl's calls one at a time, each checked as `load_calls` checks it (figures like
    a record's; UserError naming `file:line`, raised after the calls of the blocks before
    that line), read and batch-checked a block at a time (`jsonl.iter_jsonl_blocks`): a
    reader that consumes them once never holds them all."""
    path = Path(run_dir) / CALLS
    for part in iter_jsonl_blocks(path, _calls_ok):
        if not part.passed:  # one of them fails: find it line by line
            for n, call in zip(part.numbers, part.objects, strict=True):
                if not (_fields_ok(call, _CALL_TYPES) and _figures_ok(call, None)):
                    _check_fields(call, _CALL_TYPES, f"{path}:{n}")
                    _check_figures(call, f"{path}:{n}")
        yield from part.objects
        if part.error is not None:
            raise part.error


def load_calls(run_dir: Path | str) -> list[dict[str, Any]]:
    """calls.jsonl as dicts, figures checked like a record's (UserError naming `file:line`):
    `iter_calls`' calls in a list."""
    return list(iter_calls(run_dir))


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
