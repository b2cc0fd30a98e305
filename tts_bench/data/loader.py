"""Read a dataset (local file, Hugging Face hub or builtin generator) into evaluation items.

`read_table(source)` gives raw rows; `load_items(spec)` maps columns to `LoadedItem`s
(`fields.id/input/target/strata/cluster`), validates them, applies the optional stratified
`sample:` and returns the items with a fingerprint. Every problem is a one-line `UserError`
naming the file or field. Local .jsonl/.json/.csv files are read with the stdlib, giving
exactly the rows `datasets` would (data/stdlib_rows.py); a file where that is not
certain (timestamps, mixed types, unusual CSV), parquet and `hf:` go through `datasets`,
imported lazily and reading local files with `keep_in_memory` and a throw-away cache dir so
nothing is left in ~/.cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts_bench.data.stdlib_rows import csv_rows, json_rows, like_arrow
from tts_bench.errors import UserError
from tts_bench.inputcheck import (
    MAX_JSON_DEPTH,
    decode_line,
    json_depth,
    parse_json,
    regular_file,
)

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_TRUE = {"1", "true", "yes", "on"}
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LoadedItem:
    """One evaluation item. `inputs` holds every column but the target (templates may use any);
    `strata` values are strings; `cluster` groups items that share a source (or None)."""

    id: str
    inputs: dict[str, Any]
    target: Any
    strata: dict[str, str]
    cluster: str | None


def _offline() -> bool:
    """Offline when HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is true (the CLI sets the former
    unless the user chose a value; see tts_bench.llm.offline)."""
    env = os.environ
    return any(
        env.get(k, "").strip().lower() in _TRUE for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _datasets() -> Any:
    """Import `datasets` quietly and make its offline flag follow the environment *now*
    (huggingface_hub reads HF_HUB_OFFLINE only once, at import)."""
    import datasets
    import huggingface_hub.constants as hub_constants
    from huggingface_hub.utils import logging as hub_logging

    offline = _offline()
    datasets.config.HF_HUB_OFFLINE = offline
    hub_constants.HF_HUB_OFFLINE = offline
    datasets.disable_progress_bars()
    hub_logging.set_verbosity_error()  # no "Retrying in 8s" lines when the hub is unreachable
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # we report errors ourselves
    return datasets


def _one_line(exc: BaseException) -> str:
    """The root cause's message on one line (datasets wraps parser errors in generic ones)."""
    for _ in range(20):  # bounded: a chain is short, but never trust it to end
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def iter_jsonl_strict(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield `(line number, object)` for each non-blank line of a JSON-lines file, read with
    the stdlib so the first bad line is named: UserError "<path>: line N: invalid JSON (...)",
    "... not UTF-8 text (...)", "... JSON nested deeper than 100 levels" or "... expected a
    JSON object, got list". A UTF-8 byte-order mark on the first line is allowed."""
    with Path(path).open("rb") as f:
        for n, raw in enumerate(f, 1):
            where = f"{path}: line {n}"
            line = decode_line(raw[3:] if n == 1 and raw.startswith(BOM) else raw, where)
            if not line.strip():
                continue
            row = parse_json(line, where)
            if not isinstance(row, dict):
                raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield n, row


def _scan_jsonl(path: Path) -> list[dict]:
    """All rows of a JSON-lines file (datasets does not name the first bad line)."""
    return [row for _, row in iter_jsonl_strict(path)]


def _first_char_is(path: Path, char: str) -> bool:
    with path.open("rb") as f:
        head = f.read(4096).lstrip()
    return head[:1] == char.encode()


def _check_file(path: Path) -> None:
    """A dataset path must name a readable, non-empty regular file (a symlink loop, a dangling
    link, a directory or a FIFO is named as such rather than failing inside a parser)."""
    st = regular_file(path, "dataset file")
    if st.st_size == 0:
        raise UserError(f"{path}: empty dataset (0 bytes)")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _check_text(path: Path) -> None:
    """Every line UTF-8 and free of NUL bytes (datasets' messages for either are opaque)."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            where = f"{path}: line {n}"
            decode_line(raw[3:] if n == 1 and raw.startswith(BOM) else raw, where)
            if b"\x00" in raw:
                raise UserError(f"{where}: a NUL byte (a binary or UTF-16 file?)")


def _read_local(path: Path) -> list[dict]:
    fmt = LOCAL_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r} "
            f"(use {', '.join(LOCAL_FORMATS)}, hf:owner/name or builtin:<name>)"
        )
    _check_file(path)
    scanned: list[dict] | None = None
    fast: list[dict] | None = None
    if path.suffix.lower() == ".jsonl":
        # Every line is checked here (UTF-8, depth, size of numbers) before pyarrow sees it:
        # it crashes on values nested thousands deep.
        scanned = _scan_jsonl(path)
        if not _first_char_is(path, "{"):
            return scanned  # (or finds no rows)
        fast = like_arrow(scanned)
    elif fmt in ("csv", "json"):
        _check_text(path)
        if fmt == "json":
            text = path.read_text(encoding="utf-8-sig")
            if json_depth(text) > MAX_JSON_DEPTH:
                raise UserError(f"{path}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
            fast = json_rows(text)
        else:
            fast = csv_rows(path)
    if fast:
        return fast
    import tempfile

    datasets = _datasets()
    with tempfile.TemporaryDirectory(prefix="tts-bench-ds-") as cache:
        try:
            ds = datasets.load_dataset(
                fmt, data_files=str(path), split="train", cache_dir=cache, keep_in_memory=True
            )
            return ds.to_list()
        except Exception as exc:  # datasets / pyarrow raise many types for bad files
            if scanned is not None:
                # Valid JSON whose column types vary between rows is still usable data.
                return scanned
            if path.stat().st_size == 0 or "corresponds to no data" in str(exc):
                raise UserError(f"{path}: the dataset is empty (no rows)") from None
            raise UserError(f"{path}: cannot read {fmt} file: {_one_line(exc)}") from None


def _read_hub(name: str, split: str | None, subset: str | None) -> list[dict]:
    source = f"hf:{name}"
    if name.count("/") > 1 or not name.strip("/"):
        raise UserError(f"{source}: expected hf:owner/name")
    datasets = _datasets()
    try:
        ds = datasets.load_dataset(name, subset, split=split)
    except ConnectionError:
        raise UserError(
            f"{source}: cannot reach the Hugging Face hub"
            f"{' (offline: set HF_HUB_OFFLINE=0 to allow downloads)' if _offline() else ''}; "
            "or download it first and point source at a local file"
        ) from None
    except Exception as exc:
        raise UserError(f"{source}: cannot load dataset: {_one_line(exc)}") from None
    if isinstance(ds, Mapping):  # a DatasetDict: no split named
        pick = next((s for s in ("test", "validation", "train") if s in ds), next(iter(ds)))
        ds = ds[pick]
    return ds.to_list()


def read_table(
    source: str,
    *,
    params: Mapping[str, Any] | None = None,
    split: str | None = None,
    subset: str | None = None,
) -> list[dict]:
    """Raw rows of a dataset source.

    source: a .jsonl/.json/.csv/.parquet path, `hf:owner/name` (with `split`, and `subset`
    the HF config name; without a split the first of test/validation/train is used) or
    `builtin:<name>` (a generator called with `params`).
    """
    if source.startswith("builtin:"):
        from tts_bench.data.builtin import generate

        rows = generate(source.removeprefix("builtin:"), dict(params or {}))
    elif source.startswith("hf:"):
        rows = _read_hub(source.removeprefix("hf:"), split, subset)
    else:
        rows = _read_local(Path(source))
    if not rows:
        raise UserError(f"{source}: empty dataset (no rows)")
    return rows


def _cell_str(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _require(col: str, field: str, columns: list[str], source: str, where: str) -> None:
    if col not in columns:
        shown = ", ".join(columns[:20]) + (
            f", ... ({len(columns)} in all)" if len(columns) > 20 else ""
        )
        raise UserError(
            f"{where}.fields.{field}: column {col!r} not in {source} (columns: {shown})"
        )


def map_rows(
    rows: Sequence[Mapping[str, Any]], fields: Any, *, source: str, where: str = "dataset"
) -> list[LoadedItem]:
    """Turn raw rows into items according to a `FieldMap`; see `load_items` for the rules."""
    columns = _columns(rows)
    inputs = [fields.input] if isinstance(fields.input, str) else list(fields.input)
    for col in inputs:
        _require(col, "input", columns, source, where)
        if col == fields.target:
            raise UserError(
                f"{where}.fields.input: {col!r} is the target column; the model must not see it"
            )
    if fields.target is not None:  # null: no target (a judged suite without a reference)
        _require(fields.target, "target", columns, source, where)
    for col in fields.strata:
        _require(col, "strata", columns, source, where)
    if fields.cluster is not None:
        _require(fields.cluster, "cluster", columns, source, where)
    use_index = fields.id not in columns
    if use_index and fields.id != "id":
        _require(fields.id, "id", columns, source, where)

    items: list[LoadedItem] = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        raw_id = n if use_index else row.get(fields.id)
        if raw_id is None or str(raw_id).strip() == "":
            raise UserError(f"{where}.fields.id: row {n + 1} of {source} has an empty id")
        item_id = _cell_str(raw_id)
        if item_id in seen:
            raise UserError(f"{where}.fields.id: duplicate id {item_id!r} in {source}")
        seen.add(item_id)
        target = None if fields.target is None else row.get(fields.target)
        if target is None and fields.target is not None:
            raise UserError(
                f"{where}.fields.target: item {item_id!r} in {source} has no target "
                f"({fields.target!r} is null)"
            )
        for col in inputs:
            if row.get(col) is None:
                raise UserError(
                    f"{where}.fields.input: item {item_id!r} in {source} has no {col!r}"
                )
        strata = {}
        for col in fields.strata:
            value = row.get(col)
            strata[col] = "missing" if value is None else _cell_str(value)
        cluster = None
        if fields.cluster is not None and row.get(fields.cluster) is not None:
            cluster = _cell_str(row[fields.cluster])
        data = {k: v for k, v in row.items() if k != fields.target}
        items.append(LoadedItem(item_id, data, target, strata, cluster))
    return items


def _under(where: str, msg: str) -> str:
    """Prefix a source error with the suite location: "suite.yaml: dataset.source: ..."."""
    head, _, last = where.rpartition(": ")
    if msg.startswith(f"{last}."):  # already names the field (builtin params)
        return f"{head}: {msg}" if head else msg
    return f"{where}.source: {msg}"


def fingerprint(items: Sequence[LoadedItem]) -> str:
    """sha256 of the items as canonical JSON (order, ids, inputs, targets, strata, cluster)."""
    h = hashlib.sha256()
    for it in items:
        row = {"id": it.id, "inputs": it.inputs, "target": it.target, "strata": it.strata}
        row["cluster"] = it.cluster
        h.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def load_items(dataset: Any, *, where: str = "dataset") -> tuple[list[LoadedItem], str]:
    """Load, map, validate and (if `dataset.sample` is set) stratified-sample a `DatasetSpec`.

    where: prefix for error messages (e.g. "suite.yaml: dataset").
    Returns the items, in dataset order, and `fingerprint(items)` of exactly those items.
    Rules: `fields.input` may be one column or a list; `inputs` keeps every column but the
    target; strata values become strings (null -> "missing"); when the data has no `id`
    column and `fields.id` is the default "id", the 0-based row index is the id.
    `sample.by` defaults to `fields.strata` and must be a subset of it.
    """
    from tts_bench.data.sampling import stratified_sample

    try:
        rows = read_table(
            dataset.source, params=dataset.params, split=dataset.split, subset=dataset.subset
        )
    except UserError as exc:
        raise UserError(_under(where, str(exc))) from None
    items = map_rows(rows, dataset.fields, source=dataset.source, where=where)
    spec = dataset.sample
    if spec is not None:
        by = list(spec.by) or list(dataset.fields.strata)
        for col in by:
            if col not in dataset.fields.strata:
                hint = ", ".join(dataset.fields.strata) or "none"
                raise UserError(
                    f"{where}.sample.by: {col!r} is not a strata column (fields.strata: {hint})"
                )
        if spec.size > len(items):
            raise UserError(
                f"{where}.sample.size: {spec.size} is more than the {len(items)} items "
                f"in {dataset.source}"
            )
        keyed = [it.strata for it in items]
        picked = stratified_sample(
            keyed,
            by=by,
            size=spec.size,
            seed=spec.seed,
            allocation=spec.allocation,
            min_per_stratum=spec.min_per_stratum,
            where=f"{where}.sample",
        )
        items = [items[i] for i in picked]
    return items, fingerprint(items)
