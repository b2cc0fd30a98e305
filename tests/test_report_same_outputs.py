"""The fast readers and the explorer's builder give what the plain rules give.

`store`'s readers take a fast path per line (the stdlib's C scanner called directly) and per
record (messages built only when a check fails); the plain rules below are frozen copies of
the readers and of the explorer's number rounding as they were before those fast paths, and
every case here must come out the same from both: the same objects, or the same one-line
error."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tts_bench import store
from tts_bench.errors import UserError
from tts_bench.inputcheck import decode_line, parse_json
from tts_bench.report import items
from tts_bench.report.synthetic import write_synthetic_run

# -- frozen reference rules ---------------------------------------------------------------


def ref_iter_jsonl_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
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
                    return out
                raise
            out.append((n, obj))
    return out


def ref_figures_ok(obj: dict[str, Any], skip: str | None) -> bool:
    for key in store._FIGURES:
        v = obj.get(key)
        if v is None or key == skip:
            continue
        if type(v) is int:
            if v < 0:
                return False
        elif type(v) is float:
            if not 0.0 <= v < math.inf or (key in store._COUNTS and not v.is_integer()):
                return False
        else:
            return False
    c = obj.get("confidence")
    return c is None or skip == "confidence" or c <= 1


def ref_fields_ok(obj: dict[str, Any], types: dict[str, tuple[type, ...]]) -> bool:
    for key, allowed in types.items():
        value = obj.get(key)
        if value is None or type(value) in allowed:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return False
    return True


def ref_num(x: Any, digits: int = 6) -> float | None:
    if not isinstance(x, int | float) or isinstance(x, bool) or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except UserError as exc:
        return ("error", str(exc))


# -- cases --------------------------------------------------------------------------------

VALUES = [None, 0, 3, -1, 0.0, -0.0, 0.5, 2.0, 1.5, -2.5, 1e308, math.nan, math.inf, True, "1"]


def test_figures_fast_path_agrees_with_the_plain_rule() -> None:
    keys = ("cost_usd", "output_tokens", "confidence", "score", "n_calls")
    seen = 0
    for combo in itertools.product(VALUES, repeat=2):
        for a, b in itertools.combinations(keys, 2):
            obj = {a: combo[0], b: combo[1], "latency_s": 1e308, "wall_s": 1e308}
            for skip in (None, "score", "confidence"):
                assert store._figures_ok(obj, skip) == ref_figures_ok(obj, skip), (obj, skip)
                seen += 1
    assert seen > 1000
    # a sum of finite figures may overflow: the plain rule decides, and says yes
    big = {k: 1e308 for k in ("cost_usd", "latency_s", "wall_s")}
    assert store._figures_ok(big, None) is True


def test_field_types_fast_path_agrees_with_the_plain_rule() -> None:
    for types in (store._RECORD_TYPES, store._SAMPLE_TYPES, store._CALL_TYPES):
        for key, value in itertools.product(types, [*VALUES, {}, [], "s", 7]):
            obj = {key: value}
            assert store._fields_ok(obj, types) == ref_fields_ok(obj, types), (key, value)


def test_explorer_numbers_round_as_before() -> None:
    for x in [*VALUES, 10**20, 123.456789012345, 1 / 3, -1e-9, 2**53 + 1]:
        for digits in (3, 6, 8):
            got, want = items._num(x, digits), ref_num(x, digits)
            assert got == want or (got is None and want is None), (x, digits)
            assert type(got) is type(want)


LINES = [
    b'{"a": 1}\n',
    b"\n",
    b"   \n",
    b' {"lead": "space"}\n',
    b'{"trail": 1}  \t\r\n',
    b'\xef\xbb\xbf{"bom": 1}\n',
    b'{"nan": NaN, "inf": -Infinity}\n',
    b'{"x": "[[[{{{"}\n',
    b'{"a": 1} {"b": 2}\n',
    b'{"a": 1},{"b": 2}\n',
    b"[1, 2]\n",
    b'"text"\n',
    b'{"a": 1\n',
    b'{"deep": ' + b"[" * 120 + b"]" * 120 + b"}\n",
    b'{"wide": [' + b",".join(b"[]" for _ in range(150)) + b"]}\n",
    b'{"long": ' + b"9" * 5000 + b"}\n",
    b'{"bad": "\xff"}\n',
    b'{"u": "\\u00e9\xc3\xa9", "z": "\\ud800"}\n',
    b'{"x": 1}\x0b\n',
]


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("torn", [False, True])
def test_jsonl_lines_read_as_before(tmp_path: Path, line: bytes, torn: bool) -> None:
    path = tmp_path / "f.jsonl"
    body = b'{"first": 1}\n' + line
    path.write_bytes(body[:-1] if torn and body.endswith(b"\n") else body)
    got = _outcome(lambda p: list(store.iter_jsonl_lines(p)), path)
    want = _outcome(ref_iter_jsonl_lines, path)
    assert repr(got) == repr(want)  # repr: NaN compares unequal to itself


def test_records_and_calls_of_a_run_read_as_before(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "r", items=40, configs=4, text_chars=60)
    recs = store.load_records(run)
    want = ref_iter_jsonl_lines(run / store.RECORDS)
    assert recs == [obj for _, obj in want] and len(recs) == 160
    assert store.load_calls(run) == [obj for _, obj in ref_iter_jsonl_lines(run / store.CALLS)]
    # a damaged record deep in a sample pool still names its line, record and sample
    lines = (run / store.RECORDS).read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if json.loads(ln).get("samples"))
    rec = json.loads(lines[k])
    rec["samples"][2]["cost_usd"] = -0.5
    lines[k] = json.dumps(rec)
    (run / store.RECORDS).write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError) as exc:
        store.load_records(run)
    assert str(exc.value) == (
        f"{run / store.RECORDS}:{k + 1}: record {rec['item_id']!r}/{rec['config']!r}: "
        "samples[2]: `cost_usd` must not be negative, got -0.5"
    )
