"""Reading JSONL run files fast: each line parsed by orjson when it gives the stdlib's object,
by the stdlib's C scanner otherwise; a torn last line skipped, anything else damaged refused
with `file:line` (store.py's readers build on it). `read_jsonl_lines` reads a whole file in
large blocks: the guards that send a line to the stdlib run once per block (numpy), orjson
once per batch of lines, and the reader's batch check while the batch is fresh."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
            try:
                obj = _checked_object(raw, f"{path}:{n}")
            except UserError:
                if not raw.endswith(b"\n"):
                    return  # a half-written last line from a crash: never fatal
                raise
            if obj is not None:  # None: a blank line
                yield n, obj


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of `iter_jsonl_lines` without their line numbers."""
    for _, obj in iter_jsonl_lines(path):
        yield obj


# Blocks of this many bytes (cut at a newline) are scanned at once for the guards above: one
# vectorised pass per block instead of a translate of every line.
_BLOCK = 1 << 23
_BATCH = 2048  # objects parsed, then batch-checked, at a time (while in the cache)
_RUN = 19  # digits in a run that sends its line to the stdlib (see _LONG_DIGITS)
_STRIDE = 9  # a run of _RUN digits holds two digits _STRIDE apart at multiples of _STRIDE


@dataclass
class JsonlLines:
    """A JSONL file read whole: `objects` with their 1-based line `numbers`, and `error`, the
    UserError of the first damaged line (None when there is none). The objects all come before
    that line, so a reader checks them first and raises `error` only when they pass: the same
    first complaint as a reader that checks line by line. `passed`: every object passed the
    reader's batch check (False too when there was none)."""

    numbers: list[int] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: UserError | None = None
    passed: bool = False
    _checked: int = 0  # objects[:_checked] went through the batch check

    def check(self, batch_ok: Callable[[list[dict[str, Any]]], bool] | None) -> None:
        """Run `batch_ok` over the objects not yet checked (while they are fresh in the cache:
        a pass over 100,000 objects read long before costs half as much again)."""
        if batch_ok is not None and self.passed and self._checked < len(self.objects):
            self.passed = batch_ok(self.objects[self._checked :])
        self._checked = len(self.objects)


def _stdlib_lines(block: bytes, lines: list[bytes]) -> tuple[set[int], bool]:
    """0-based indices of the `lines` of `block` (complete lines) that orjson must not parse
    (more than MAX_JSON_DEPTH brackets, or a run of 19 digits), and whether every line starts
    with `{` (orjson then gives a dict or refuses). A run of 19 digits holds two digits at
    multiples of 9 with 8 digits between: those are found first, and only they are measured."""
    import numpy as np  # here, not at import: most commands never read a run file

    a = np.frombuffer(block, np.uint8)
    newlines = np.cumsum(np.array(list(map(len, lines)), np.int64) + 1) - 1
    all_objects = bool(a[0] == 123 and (a[newlines[:-1] + 1] == 123).all())
    brackets = np.flatnonzero((a | 32) == 123)  # b"[" and b"{" alone become b"{"
    per_line = np.diff(np.searchsorted(brackets, newlines), prepend=0)
    slow = np.flatnonzero(per_line > MAX_JSON_DEPTH).tolist()
    sampled = (a[::_STRIDE] - 48) < 10  # unsigned: bytes below b"0" wrap to large
    first = np.flatnonzero(sampled[:-1] & sampled[1:]) * _STRIDE
    for step in range(1, _STRIDE):  # keep those with digits all the way to the next sample
        first = first[(a[first + step] - 48) < 10]
    if first.size:
        # digits left of the 10 found and right of them, up to the 9 more a long run needs
        reach = _RUN - _STRIDE - 1
        padded = np.zeros(a.size + 2 * reach, np.uint8)  # NUL is no digit: runs end there
        padded[reach : reach + a.size] = a
        length = np.full(first.size, _STRIDE + 1)
        for toward in (-1, 1):  # from the first digit found leftwards, from the last rightwards
            alive = np.ones(first.size, bool)
            edge = first + reach + (_STRIDE if toward > 0 else 0)
            for step in range(1, reach + 1):
                alive &= (padded[edge + toward * step] - 48) < 10
                length += alive
        long_runs = first[length >= _RUN]
        slow += np.searchsorted(newlines, long_runs).tolist()
    return set(slow), all_objects


def _checked_object(raw: bytes, where: str) -> dict[str, Any] | None:
    """The object on a line the fast path did not take, None for a blank line, else the
    UserError naming `where`."""
    text = decode_line(raw, where)
    if not text.strip():
        return None
    obj = parse_json(text, where)
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj


def read_jsonl_lines(
    path: Path,
    batch_ok: Callable[[list[dict[str, Any]]], bool] | None = None,
    block_size: int = _BLOCK,
    batch: int = _BATCH,
) -> JsonlLines:
    """`iter_jsonl_lines` for a whole file at once, read in blocks of about `block_size`
    bytes: the same objects, line numbers and torn-last-line handling, the first damaged
    line's UserError returned (not raised) in `error`. `batch_ok` (optional) checks the
    objects `batch` at a time as they are parsed; `passed` says whether all passed."""
    out = JsonlLines(passed=batch_ok is not None)
    if path.exists():
        for _ in _read_blocks(path, out, batch_ok, block_size, batch):
            pass
    out.check(batch_ok)
    return out


def iter_jsonl_blocks(
    path: Path,
    batch_ok: Callable[[list[dict[str, Any]]], bool] | None = None,
    block_size: int = _BLOCK,
    batch: int = _BATCH,
) -> Iterator[JsonlLines]:
    """`read_jsonl_lines` a block at a time, for a reader that consumes each object once and
    holds none: each yielded `JsonlLines` has one block's objects, `passed` for them alone, and
    `error` on the last one yielded when a damaged line ended the file's reading. The same
    `JsonlLines` is refilled for the next block: take what you need before asking for it."""
    out = JsonlLines(passed=batch_ok is not None)
    if path.exists():
        for _ in _read_blocks(path, out, batch_ok, block_size, batch):
            out.check(batch_ok)
            yield out
            out.numbers.clear()
            out.objects.clear()
            out._checked = 0
            out.passed = batch_ok is not None
    out.check(batch_ok)
    if out.objects or out.error is not None:
        yield out


def _read_blocks(
    path: Path,
    out: JsonlLines,
    batch_ok: Callable[[list[dict[str, Any]]], bool] | None,
    block_size: int,
    batch: int,
) -> Iterator[None]:
    """Fill `out` from `path` (see `read_jsonl_lines`), pausing after each block read whole;
    returns at the first damaged line (and after a torn last line)."""
    numbers, objects = out.numbers, out.objects
    loads = orjson.loads
    n = 0
    rest = b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(block_size)
            if not chunk:  # what is left has no newline: a crash mid-write, never fatal
                if rest:
                    obj = _fast_object(rest)
                    try:
                        obj = _checked_object(rest, f"{path}:{n + 1}") if obj is None else obj
                    except UserError:
                        return
                    if obj is not None:
                        numbers.append(n + 1)
                        objects.append(obj)
                return
            block = rest + chunk if rest else chunk
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            if not block:
                continue
            lines = block.split(b"\n")
            lines.pop()  # the empty piece after the block's last newline
            stdlib, all_objects = _stdlib_lines(block, lines)
            if all_objects and not stdlib:
                try:  # a call per batch of lines: a line orjson refuses sends them one by one
                    for start in range(0, len(lines), batch):
                        objects.extend(map(loads, lines[start : start + batch]))
                        out.check(batch_ok)
                except orjson.JSONDecodeError:
                    del objects[len(numbers) :]
                    out._checked = min(out._checked, len(objects))
                else:
                    numbers.extend(range(n + 1, n + len(lines) + 1))
                    n += len(lines)
                    yield
                    continue
            for i, raw in enumerate(lines):
                n += 1
                obj = None
                if raw[:1] == b"{" and i not in stdlib:
                    try:  # what orjson refuses (NaN, lone surrogates, ...) the stdlib decides
                        obj = loads(raw)
                    except orjson.JSONDecodeError:
                        pass
                if type(obj) is not dict:
                    raw += b"\n"  # the line as iter_jsonl_lines sees it
                    obj = _fast_object(raw)
                    if obj is None:
                        try:
                            obj = _checked_object(raw, f"{path}:{n}")
                        except UserError as exc:
                            out.error = exc
                            return
                        if obj is None:
                            continue  # a blank line
                numbers.append(n)
                objects.append(obj)
            out.check(batch_ok)
            yield
