"""Limits on what is read from files a user hands over, checked before the parsers see it.

`parse_json(text, where)` refuses JSON nested deeper than `MAX_JSON_DEPTH` (found by a cheap
bracket scan, so neither the stdlib's recursive decoder nor pyarrow's ever sees a 200,000-deep
value), integers longer than Python converts (`MAX_INT_DIGITS`), and, with
`allow_nonfinite=False`, the NaN / Infinity literals Python's json accepts. `decode_line`
names the line of a non-UTF-8 byte. `check_number` is the one rule for figures read back
(cost, latency, tokens): a finite, non-negative number of the right type.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError

# Deeper than any dataset row, record or log we read; far below the stdlib decoder's
# recursion limit and pyarrow's crash.
MAX_JSON_DEPTH = 100
# Python refuses to convert longer digit strings to int (sys.set_int_max_str_digits).
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_INT = re.compile(rf"\d{{{MAX_INT_DIGITS + 1},}}")


def json_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return text.count("[") + text.count("{")  # an upper bound is enough below the limit
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, where: str, *, allow_nonfinite: bool = True) -> Any:
    """json.loads with the limits above; UserError "<where>: <problem>" on any failure."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise UserError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        if allow_nonfinite:
            return json.loads(text)
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: invalid JSON ({exc.msg})") from None
    except ValueError as exc:
        # the stdlib refuses an over-long integer itself; a parse_int hook that says so more
        # plainly would cost a Python call per number of every record read
        long = _LONG_INT.search(_STRING.sub("", text))
        if long:
            raise UserError(
                f"{where}: invalid JSON (an integer of {len(long.group())} digits "
                f"(at most {MAX_INT_DIGITS}))"
            ) from None
        raise UserError(f"{where}: invalid JSON ({exc})") from None
    except RecursionError as exc:
        raise UserError(f"{where}: invalid JSON ({exc})") from None


def decode_line(raw: bytes, where: str) -> str:
    """`raw` as UTF-8 text, or UserError "<where>: not UTF-8 text (byte 0x.. at column N)"."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from None


def check_number(value: Any, *, integer: bool = False) -> str | None:
    """Why `value` is not a finite, non-negative number (an int when `integer`), else None.
    None (unknown) is fine: figures that are not known stay null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {type(value).__name__}"
    if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return f"must be finite, got {short(value)}"  # no float holds it: it is infinite here
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        return f"must be a whole number, got {value!r}"
    if not math.isfinite(value):
        return f"must be finite, got {value!r}"
    if value < 0:
        return f"must not be negative, got {short(value)}"
    return None


_FLOAT_MAX = sys.float_info.max


def short(value: Any, limit: int = 60) -> str:
    """repr(value) cut to `limit` characters, for error messages about huge values."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]} ({len(text)} chars)"


def regular_file(path: Path, what: str) -> os.stat_result:
    """stat() of a file the user named, or UserError saying what it is instead: missing (`what`
    not found), a broken symbolic link, a link loop, a directory, not a regular file (a FIFO
    would block the reader), or unreadable."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"{path}: a symbolic link loop") from None
        if exc.errno == errno.ENOENT:
            broken = path.is_symlink()
            raise UserError(
                f"{path}: {'a broken symbolic link' if broken else f'{what} not found'}"
            ) from None
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path}: not a regular file")
    return st
