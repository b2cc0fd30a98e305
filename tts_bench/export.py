"""A run as flat tables: `load(run_dir)` gives pandas DataFrames, `export_run` writes them as
CSV or Parquet (`tts-bench export`).

- `records`: one row per (item, config). `strata` becomes one `stratum.<name>` column per
  stratum, `metrics` and `info` become `metrics.<key>` / `info.<key>` columns (nested
  mappings joined with dots: `info.route.chosen`), and the `samples` pool is replaced by
  `n_samples` (the pool itself is the `samples` table).
- `samples`: one row per pool sample: `item_id`, `config`, `model`, `sample` (its index in
  the pool), the stratum columns, then the sample's own fields (answer, correct, value,
  score, cost_usd, latency_s, tokens, status, finish_reason).
- `calls`: calls.jsonl as it is, one row per model call.

A column whose values are lists, mappings or a mix of kinds (a target that is a number on
one item and text on another) holds text (strings as they are, anything else as JSON), so every column has one type in CSV and in
Parquet alike. Records and calls come through the store's readers, which check them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from tts_bench.errors import UserError

FORMATS = ("csv", "parquet")
_NESTED = ("metrics", "info")


class RunFrames(NamedTuple):
    """A run as pandas DataFrames (see the module doc): records, samples, calls, and the
    run's manifest as a dict."""

    records: Any
    samples: Any
    calls: Any
    manifest: dict[str, Any]


def record_row(rec: dict[str, Any], strata_cols: list[str]) -> dict[str, Any]:
    """One record as a flat row (see the module doc)."""
    row: dict[str, Any] = {}
    for key, value in rec.items():
        if key == "strata":
            continue
        if key == "samples":
            row["n_samples"] = None if value is None else len(value)
        elif key in _NESTED and isinstance(value, dict):
            # one level: keys under `info` are the strategy's names; below them (votes per
            # answer) keys are data, kept as one JSON column rather than a column per answer
            for k, v in value.items():
                row[f"{key}.{k}"] = v
        else:
            row[key] = value
    strata = rec.get("strata") or {}
    for col in strata_cols:
        row[f"stratum.{col}"] = strata.get(col)
    return row


def _strata_cols(manifest: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """The suite's strata columns first (their declared order), then any others found."""
    fields = ((manifest.get("suite") or {}).get("dataset") or {}).get("fields") or {}
    cols = [c for c in fields.get("strata") or [] if isinstance(c, str)]
    for r in records:
        for c in r.get("strata") or {}:
            if c not in cols:
                cols.append(c)
    return cols


def _one_kind(frame: Any) -> Any:
    """Columns of lists, mappings or mixed kinds as JSON text (CSV and Parquet agree)."""
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        values = [v for v in frame[col] if v is not None]
        kinds = {type(v) for v in values}
        if kinds <= {str} or kinds <= {bool}:
            continue
        # text stays as it is; numbers, lists and mappings as JSON (7 -> "7")
        as_text = [
            v if v is None or isinstance(v, str) else json.dumps(v, default=str) for v in frame[col]
        ]
        frame[col] = as_text
    return frame


def frames(run_dir: Path | str) -> RunFrames:
    """The run's records, samples and calls as DataFrames (columns in the module doc).
    UserError when the directory is not a readable run."""
    import pandas as pd

    from tts_bench.store import load_calls, load_records, read_manifest

    rd = Path(run_dir)
    manifest = read_manifest(rd)
    records = load_records(rd)
    calls = load_calls(rd)
    cols = _strata_cols(manifest, records)
    rows, samples = [], []
    for rec in records:
        rows.append(record_row(rec, cols))
        strata = rec.get("strata") or {}
        for j, s in enumerate(rec.get("samples") or []):
            head = {"item_id": rec["item_id"], "config": rec["config"], "model": rec.get("model")}
            head["sample"] = j
            head.update({f"stratum.{c}": strata.get(c) for c in cols})
            samples.append({**head, **s})
    sample_cols = ["item_id", "config", "model", "sample", *(f"stratum.{c}" for c in cols)]
    table = pd.DataFrame(rows)
    if "n_samples" in table:
        table["n_samples"] = table["n_samples"].astype("Int64")  # null for unpooled configs
    return RunFrames(
        records=_one_kind(table),
        samples=_one_kind(pd.DataFrame(samples, columns=None if samples else sample_cols)),
        calls=_one_kind(pd.DataFrame(calls)),
        manifest=manifest,
    )


def load(run_dir: Path | str) -> RunFrames:
    """`tts_bench.load(run_dir)`: a run as DataFrames `records`, `samples` and `calls` (and
    its `manifest`); see `tts_bench.export`."""
    return frames(run_dir)


def _write(frame: Any, path: Path, fmt: str) -> None:
    """Write atomically: a temp file in the same folder, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_run(run_dir: Path | str, fmt: str, out_dir: Path | str | None = None) -> list[Path]:
    """Write records, samples and calls as `<name>.csv` or `<name>.parquet` into `out_dir`
    (default: RUN_DIR/export). Returns the paths written. UserError for an unknown format."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: expected csv or parquet")
    rd = Path(run_dir)
    data = frames(rd)
    out = Path(out_dir) if out_dir is not None else rd / "export"
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("records", "samples", "calls"):
        path = out / f"{name}.{fmt}"
        _write(getattr(data, name), path, fmt)
        paths.append(path)
    return paths
