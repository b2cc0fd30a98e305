"""Reading JSONL run files fast: each line parsed by orjson when it gives the stdlib's object,
by the stdlib's C scanner otherwise; a torn last line skipped, anything else damaged refused
with `file:line` (store.py's readers build on it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tts_bench.errors import UserError
from tts_bench.inputcheck import MAX_JSON_DEPTH, decode_line, parse_json

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
