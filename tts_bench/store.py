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

from tts_bench.errors import UserError
from tts_bench.fsutil import atomic_write_text
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


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield JSON objects from a JSONL file, skipping a torn (unparseable) line."""
    if not path.exists():
        return
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # a half-written line from a crash: never fatal
            if isinstance(obj, dict):
                yield obj


def read_manifest(run_dir: Path | str) -> dict[str, Any]:
    p = Path(run_dir) / MANIFEST
    if not p.is_file():
        raise UserError(f"{run_dir}: not a run directory (no {MANIFEST})")
    try:
        manifest = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{p}: unreadable manifest ({exc.msg})") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: unreadable manifest (not UTF-8 text)") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("suite", {}), dict):
        raise UserError(f"{p}: not a run manifest (expected an object with a `suite` object)")
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
    "latency_s": _NUMBER,
    "strata": (dict,),
    "samples": (list,),
    "info": (dict,),
    "metrics": (dict,),
}


def _check_record(rec: dict[str, Any], path: Path) -> None:
    for key, types in _RECORD_TYPES.items():
        value = rec.get(key)
        if value is not None and (
            not isinstance(value, types) or (types is _NUMBER and isinstance(value, bool))
        ):
            raise UserError(
                f"{path}: record {rec['item_id']!r}/{rec['config']!r}: `{key}` must be "
                f"{' or '.join(t.__name__ for t in types)} or null, got {type(value).__name__}"
            )
    for sample in rec.get("samples") or []:
        if not isinstance(sample, dict):
            raise UserError(
                f"{path}: record {rec['item_id']!r}/{rec['config']!r}: `samples` must hold objects"
            )


def load_records(run_dir: Path | str) -> list[dict[str, Any]]:
    """Records as dicts (types checked); for a repeated (item, config) the last line wins."""
    path = Path(run_dir) / RECORDS
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in iter_jsonl(path):
        if "item_id" in rec and "config" in rec:
            _check_record(rec, path)
            latest[(str(rec["item_id"]), str(rec["config"]))] = rec
    return list(latest.values())


def load_calls(run_dir: Path | str) -> list[dict[str, Any]]:
    return list(iter_jsonl(Path(run_dir) / CALLS))


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
