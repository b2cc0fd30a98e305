"""`inspect`: Inspect AI eval logs, `.json` or `.eval` (a zip of JSON members).

Each sample id is an item; its epochs are the pool (in epoch order). Per sample: the text is
`output.completion`; tokens and cost are summed over the sample's `model_usage` (every model
call of that sample; else `output.usage`); latency is the sample's `working_time` (time spent
working, without waiting on rate limits or concurrency), else `total_time`; a sample with an
`error` is an infrastructure failure (`api_error`). The log is read with
`inspect_ai.log.read_eval_log` when `inspect_ai` is installed, else parsed here (zstd-compressed
`.eval` members then need the `zstandard` package). `--spec` `strata`/`cluster` name keys of
the sample's `metadata`.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Any

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
from tts_bench.importers.pool_jsonl import checked_sample
from tts_bench.inputcheck import decode_line, parse_json, short

ZSTD = 93  # zip compression method id used by newer Inspect versions


def _with_inspect(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str | None] | None:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        return None
    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # any reader failure is a bad file, reported in one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: unreadable Inspect log ({msg})") from None
    samples = [
        s.model_dump(mode="json", exclude={"events", "messages", "attachments"})
        for s in (log.samples or [])
    ]
    return log.eval.model_dump(mode="json"), samples, log.status


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    if info.compress_type != ZSTD:
        return zf.read(info)
    try:
        import zstandard
    except ImportError:
        raise UserError(
            f"{path}: zstd-compressed .eval log: install inspect-ai "
            "(pip install 'tts-bench[inspect]') or zstandard to read it"
        ) from None
    # zipfile cannot decompress zstd: read the raw member after its local header
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        raw = fh.read(info.compress_size)
    return zstandard.ZstdDecompressor().decompress(raw, max_output_size=max(info.file_size, 1))


def _json(data: bytes, where: str) -> Any:
    return parse_json(decode_line(data, where), where)


def _by_hand(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    try:
        if path.suffix == ".eval" or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                infos = {i.filename: i for i in zf.infolist()}
                head = infos.get("header.json") or infos["_journal/start.json"]
                header = _json(_member(zf, head, path), f"{path}: {head.filename}")
                samples = [
                    _json(_member(zf, info, path), f"{path}: {name}")
                    for name, info in infos.items()
                    if name.startswith("samples/") and name.endswith(".json")
                ]
        else:
            header = _json(path.read_bytes(), str(path))
            samples = header.get("samples") if isinstance(header, dict) else None
            samples = [] if samples is None else samples
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: unreadable Inspect log ({type(exc).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
        raise UserError(f"{path}: not an Inspect log (no `eval` header object)")
    if not isinstance(samples, list) or not all(isinstance(s, dict) for s in samples):
        raise UserError(f"{path}: not an Inspect log (`samples` must be a list of objects)")
    status = header.get("status")
    return header["eval"], samples, status if isinstance(status, str) else None


def _obj(s: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """s[key] as an object ({} when absent or null); UserError when it is something else."""
    value = s.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{where}: `{key}` must be an object, got {type(value).__name__}")
    return value


def _usage(
    s: dict[str, Any], where: str
) -> tuple[int | None, int | None, int | None, float | None]:
    usages = list(_obj(s, "model_usage", where).values())
    if not usages and _obj(s, "output", where).get("usage"):
        usages = [s["output"]["usage"]]
    if not usages:
        return None, None, None, None
    if not all(isinstance(u, dict) for u in usages):
        raise UserError(f"{where}: model usage must be objects of token counts")

    def total(key: str, conv: Any) -> Any:
        vals = [conv(u.get(key)) for u in usages]
        return None if any(v is None for v in vals) else sum(vals)

    return (
        total("input_tokens", opt_int),
        total("output_tokens", opt_int),
        total("reasoning_tokens", opt_int),
        total("total_cost", opt_float),
    )


def _sample(s: dict[str, Any], where: str) -> PoolSample:
    out = _obj(s, "output", where)
    text = out.get("completion")
    choices = out.get("choices") or []
    if not isinstance(choices, list):
        raise UserError(f"{where}: `output.choices` must be a list")
    stop = choices[0].get("stop_reason") if choices and isinstance(choices[0], dict) else None
    inp, outp, reas, cost = _usage(s, where)
    latency = opt_float(s.get("working_time"))
    if latency is None:
        latency = opt_float(s.get("total_time"))
    return checked_sample(
        PoolSample(
            text=text if isinstance(text, str) else "",
            input_tokens=inp,
            output_tokens=outp,
            reasoning_tokens=reas,
            cost_usd=cost,
            latency_s=latency,
            status="api_error" if s.get("error") else "ok",
            finish_reason=finish_reason(stop),
        ),
        where,
    )


def _target(t: Any) -> Any:
    if isinstance(t, list) and len(t) == 1:
        return t[0]
    return t


def read(path: Path, spec: ImportSpec) -> Source:
    got = _with_inspect(path) or _by_hand(path)
    header, samples, status = got
    warnings = []
    if status not in (None, "success"):
        warnings.append(f"{path}: the log's status is {status!r}; pools may be incomplete")
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        sid = s.get("id")
        if isinstance(sid, bool) or not isinstance(sid, (str, int)):
            raise UserError(f"{path}: a sample has no `id` (a string or an integer)")
        epoch = s.get("epoch")
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)):
            raise UserError(f"{path}: sample {short(sid)}: `epoch` must be an integer")
        groups.setdefault(str(sid), []).append(s)
    items = []
    for sid, group in groups.items():
        group.sort(key=lambda s: s.get("epoch") or 0)
        first = group[0]
        where = f"{path}: sample {short(sid)}"
        if "target" not in first:
            raise UserError(f"{where}: no `target` field")
        meta = _obj(first, "metadata", where)
        strata = {}
        for col in spec.strata_cols or []:
            if col not in meta:
                raise UserError(f"{where}: no stratum field {col!r} in metadata")
            strata[col] = str(meta[col])
        cluster = meta.get(spec.cluster) if spec.cluster else None
        items.append(
            PoolItem(
                id=sid,
                target=_target(first["target"]),
                where=where,
                strata=strata,
                cluster=None if cluster is None else str(cluster),
                samples=[_sample(s, where) for s in group],
            )
        )
    model = header.get("model")
    task = header.get("task")
    return Source(
        items=items,
        model=model if isinstance(model, str) else None,
        name=task if isinstance(task, str) and task else path.stem,
        warnings=warnings,
    )
