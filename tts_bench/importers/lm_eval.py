"""`lm-eval`: the per-task samples file `lm_eval --log_samples` writes
(`samples_<task>_<timestamp>.jsonl`), one line per document:

    {"doc_id": 0, "doc": {...}, "target": "72", "arguments": [...],
     "resps": [["<repeat 1>", "<repeat 2>", ...]], "filtered_resps": [...], "filter": "none", ...}

For a `generate_until` task with `repeats: K`, `resps` holds one request whose K responses are
the pool; `[["r1"], ["r2"], ...]` (one list per repeat) and a flat list of strings are read the
same way. Answers are extracted from the raw `resps` with the scorer (the task's own filters are
ignored, so every config is scored the same way). A task with several filter pipelines writes one
line per (doc, filter) with the same `resps`: the first line of a doc_id is kept. The model name
is read from a `results_*.json` next to the file when there is one. `--spec` `strata`/`cluster`
name fields of `doc` (else of the line). No cost or latency is logged: both stay null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tts_bench.data.loader import iter_jsonl_strict
from tts_bench.errors import UserError
from tts_bench.importers.common import ImportSpec, PoolItem, PoolSample, Source


def _pool(resps: Any, where: str) -> list[str]:
    if not isinstance(resps, list) or not resps:
        raise UserError(f"{where}: `resps` must be a non-empty list")
    if all(isinstance(r, str) for r in resps):
        return list(resps)
    if not all(isinstance(r, list) for r in resps):
        raise UserError(f"{where}: `resps` must be a list of lists of generated strings")
    flat = resps[0] if len(resps) == 1 else [x for r in resps for x in r]
    if len(resps) > 1 and not all(len(r) == 1 for r in resps):
        raise UserError(
            f"{where}: `resps` has several requests per document (a multiple-choice or "
            "log-likelihood task?): only generate_until tasks can be imported"
        )
    if not all(isinstance(x, str) for x in flat):
        raise UserError(
            f"{where}: `resps` holds log-likelihoods, not generated text: only "
            "generate_until tasks can be imported"
        )
    return list(flat)


def _model(path: Path) -> str | None:
    """The model named by the newest results_*.json beside the samples file, if any."""
    for res in sorted(path.parent.glob("results_*.json"), reverse=True):
        try:
            data = json.loads(res.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(data, dict):
            continue
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        name = data.get("model_name") or config.get("model_args")
        if isinstance(name, str) and name:
            for part in name.split(","):  # model_args "pretrained=org/name,dtype=..."
                if part.startswith("pretrained="):
                    return part.split("=", 1)[1]
            return name
    return None


def _field(line: dict[str, Any], name: str) -> Any:
    doc = line.get("doc")
    if isinstance(doc, dict) and name in doc:
        return doc[name]
    return line.get(name)


def read(path: Path, spec: ImportSpec) -> Source:
    items: list[PoolItem] = []
    seen: set[str] = set()
    repeated = 0
    for n, row in iter_jsonl_strict(path):
        where = f"{path}:{n}"
        for key in ("doc_id", "target", "resps"):
            if key not in row:
                raise UserError(f"{where}: no `{key}` field (not an lm-eval samples file?)")
        doc_id = row["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise UserError(f"{where}: `doc_id` must be an integer or a string")
        item_id = str(doc_id)
        if item_id in seen:
            repeated += 1
            continue
        seen.add(item_id)
        strata = {}
        for col in spec.strata_cols or []:
            value = _field(row, col)
            if value is None:
                raise UserError(f"{where}: no stratum field {col!r} in `doc`")
            strata[col] = str(value)
        cluster = _field(row, spec.cluster) if spec.cluster else None
        items.append(
            PoolItem(
                id=item_id,
                target=row["target"],
                where=where,
                strata=strata,
                cluster=None if cluster is None else str(cluster),
                samples=[PoolSample(text=t) for t in _pool(row["resps"], where)],
            )
        )
    warnings = []
    if repeated:
        warnings.append(
            f"{path}: {repeated} lines repeat a doc_id (one per filter); "
            "the first line of each document was used"
        )
    task = path.stem.removeprefix("samples_").rsplit("_", 1)[0] or path.stem
    return Source(items=items, model=_model(path), name=task, warnings=warnings)
