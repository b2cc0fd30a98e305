"""`pool-jsonl`: one JSON line per item with its pool of samples.

    {"id": "q1", "target": "42", "strata": {"level": "hard"}, "cluster": "src-3",
     "samples": ["... Final answer: 42", "... Final answer: 41"]}

A sample is a raw completion (a string; the answer is extracted with the scorer) or an object
with any of: text, answer (already extracted: used as is, canonicalised), score (a selector's
score), input_tokens, output_tokens, reasoning_tokens, latency_s, cost_usd, status ("ok" or an
infrastructure failure such as "timeout"), finish_reason. An optional per-line `model` names
the model. Field names come from an `ImportSpec` (`--spec`): `{id: question_id, target: answer,
samples: generated_answer, strata: [level]}`; with `strata` given as columns, each column is
read from the line itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts_bench.data.loader import iter_jsonl_strict
from tts_bench.errors import UserError
from tts_bench.importers.common import (
    ImportSpec,
    PoolItem,
    PoolSample,
    Source,
    finish_reason,
    opt_float,
    opt_int,
)
from tts_bench.inputcheck import check_number

SAMPLE_KEYS = {
    "text",
    "answer",
    "score",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "latency_s",
    "cost_usd",
    "status",
    "finish_reason",
}


def checked_sample(sample: PoolSample, where: str) -> PoolSample:
    """`sample` when its tokens, cost and latency are finite, non-negative (tokens whole)
    numbers or unknown; UserError naming `where` and the field otherwise."""
    for key in ("input_tokens", "output_tokens", "reasoning_tokens", "latency_s", "cost_usd"):
        problem = check_number(getattr(sample, key), integer=key.endswith("tokens"))
        if problem:
            raise UserError(f"{where}: `{key}` {problem}")
    return sample


def parse_sample(obj: Any, where: str) -> PoolSample:
    if isinstance(obj, str):
        return PoolSample(text=obj)
    if obj is None:  # a sample that produced nothing: kept, unextractable
        return PoolSample(text="")
    if not isinstance(obj, dict):
        raise UserError(
            f"{where}: a sample must be a string or an object, got {type(obj).__name__}"
        )
    unknown = set(obj) - SAMPLE_KEYS
    if unknown:
        raise UserError(
            f"{where}: unknown sample field {sorted(unknown)[0]!r} "
            f"(known: {', '.join(sorted(SAMPLE_KEYS))})"
        )
    if "text" not in obj and "answer" not in obj:
        raise UserError(f"{where}: a sample object needs `text` or `answer`")
    text = obj.get("text")
    for key in ("input_tokens", "output_tokens", "reasoning_tokens"):
        problem = check_number(obj.get(key), integer=True) if _is_number(obj.get(key)) else None
        if problem:  # opt_int would truncate 2.5 or hide a negative count
            raise UserError(f"{where}: `{key}` {problem}")
    return checked_sample(
        PoolSample(
            text=None if text is None else str(text),
            answer=obj.get("answer"),
            has_answer="answer" in obj,
            score=opt_float(obj.get("score")),
            input_tokens=opt_int(obj.get("input_tokens")),
            output_tokens=opt_int(obj.get("output_tokens")),
            reasoning_tokens=opt_int(obj.get("reasoning_tokens")),
            latency_s=opt_float(obj.get("latency_s")),
            cost_usd=opt_float(obj.get("cost_usd")),
            status=str(obj.get("status") or "ok"),
            finish_reason=finish_reason(obj.get("finish_reason")),
        ),
        where,
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def strata_of(row: dict[str, Any], cols: list[str] | None, where: str) -> dict[str, str]:
    """Stratum labels: the named columns of `row`, or its `strata` dict when none are named."""
    if cols is None:
        raw = row.get("strata")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise UserError(f'{where}: `strata` must be an object like {{"level": "hard"}}')
        return {str(k): str(v) for k, v in raw.items()}
    out = {}
    for c in cols:
        if c not in row:
            raise UserError(f"{where}: no stratum field {c!r}")
        out[c] = str(row[c])
    return out


def read(path: Path, spec: ImportSpec) -> Source:
    items: list[PoolItem] = []
    seen: dict[str, int] = {}
    models: set[str] = set()
    for n, row in iter_jsonl_strict(path):
        where = f"{path}:{n}"
        for key, role in ((spec.id, "id"), (spec.target, "target"), (spec.samples, "samples")):
            if key not in row:
                raise UserError(f"{where}: no `{key}` field (the {role}; map it with --spec)")
        raw_id = row[spec.id]
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id) == "":
            raise UserError(f"{where}: `{spec.id}` must be a non-empty string or an integer")
        item_id = str(raw_id)
        if item_id in seen:
            raise UserError(f"{where}: item {item_id!r} repeats line {seen[item_id]}")
        seen[item_id] = n
        raw = row[spec.samples]
        if not isinstance(raw, list):
            raise UserError(f"{where}: `{spec.samples}` must be a list of samples")
        samples = [parse_sample(s, f"{where}: {spec.samples}[{j}]") for j, s in enumerate(raw)]
        cluster = row.get(spec.cluster) if spec.cluster else None
        model = row.get(spec.model) if spec.model else None
        if model is not None:
            models.add(str(model))
        items.append(
            PoolItem(
                id=item_id,
                target=row[spec.target],
                samples=samples,
                where=where,
                strata=strata_of(row, spec.strata_cols, where),
                cluster=None if cluster is None else str(cluster),
                model=None if model is None else str(model),
            )
        )
    warnings = []
    if len(models) > 1:
        warnings.append(f"{path}: several models in one pool file ({', '.join(sorted(models))})")
    return Source(
        items=items,
        model=next(iter(models)) if len(models) == 1 else None,
        name=path.stem,
        warnings=warnings,
    )
