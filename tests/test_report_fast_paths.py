"""The report's fast paths give exactly what the plain code gives.

- `store._fast_object` (orjson) parses a line to the same object as the stdlib, or declines
  (integers past 64 bits, NaN, lone surrogates, ...) so the stdlib decides;
- `items.blob_json` (orjson) writes the explorer's JSON byte for byte as `script_json`;
- `estimators.majority_at_k` (memoised per pool shape) equals the sum it memoises;
- `load._num` (whole rows converted at once) equals the per-record rule;
- the bootstrap's counts drawn one resample at a time are the counts of one bincount per
  piece, and a count over 255 widens them to uint16.
"""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import numpy as np
import pytest

from tts_bench import store
from tts_bench.analysis import bootstrap, estimators, load
from tts_bench.report import items


def _floats(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        k = len(out) % 4
        if k == 0:
            x = struct.unpack("d", rng.randbytes(8))[0]
        elif k == 1:
            x = round(rng.random() * 10 ** rng.randint(-9, 20), rng.randint(0, 9))
        elif k == 2:
            x = float(rng.randint(0, 10 ** rng.randint(1, 20)))
        else:
            x = rng.random() * 10 ** rng.randint(-30, 30)
        if math.isfinite(x):
            out.append(x)
    return out


LINES = [
    '{"a": 1}',
    '{"a": 1, "a": 2}',
    '{"a": 123456789012345678}',
    '{"a": 1234567890123456789}',  # 19 digits: the stdlib decides
    '{"a": 123456789012345678901234567890}',  # past 64 bits: an int, not a float
    '{"a": -9223372036854775809}',
    '{"a": 18446744073709551616}',
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": 1e400}',
    '{"a": 1e-400}',
    '{"a": "\\ud800"}',  # a lone surrogate
    '{"a": "\\u00e9\\n\\"\\/", "b": [1, 2, {"c": null}], "d": true}',
    '{"a": -0.0, "b": -0}',
    '{"text": "call 12345678901234567890 now"}',  # digits in a string: still the same
    '{"a": 1} \t',
]


@pytest.mark.parametrize("line", LINES)
def test_fast_reader_gives_the_stdlib_object(line: str) -> None:
    got = store._fast_object((line + "\n").encode())
    want = json.loads(line)
    assert repr(got) == repr(want)  # an int stays an int (a float's repr differs)


def test_fast_reader_floats_are_the_stdlib_floats() -> None:
    for x in _floats(20_000, 1):
        line = json.dumps({"x": x, "s": str(x)})
        got = store._fast_object(line.encode())
        assert got is not None and repr(got) == repr(json.loads(line))


def test_fast_reader_declines_what_is_no_plain_object() -> None:
    for raw in (b"[1]\n", b"\xef\xbb\xbf{}\n", b'{"a": 1} x\n', b'{"a": \xff}\n', b'{"a":1\n'):
        assert store._fast_object(raw) is None


def _blob(texts: list[str], floats: list[Any]) -> dict[str, Any]:
    return {
        "configs": ["a", "b"],
        "texts": texts,
        "items": [
            [
                "i1",
                None,
                ["x"],
                [[t, 1, -1, f, f, 0, []] for t, f in zip(texts, floats, strict=True)],
            ]
        ],
        "pages": {"count": 1},
    }


@pytest.mark.parametrize(
    ("texts", "floats"),
    [
        (["plain", "é</script><!--\u2028\u2029"], [0.0002, 1.234]),
        (["x", "y"], [5e-05, 1e-08]),  # small: orjson's form differs, the stdlib writes them
        (["x", "y"], [1.5e16, 123456789012345.6]),
        (["3e-5 in a text", "y"], [0.1, 2.0]),  # text that looks like an exponent
        (["0.00001 in a text", "y"], [0.1, 2.0]),
        (["x", "\ud800"], [0.1, 2.0]),  # lone surrogate: orjson refuses, the stdlib writes it
        (["x", "y"], [2**70, -(2**64)]),  # integers past 64 bits
        (["\x00\x1f\x7f", '"\\'], [None, -0.0]),
    ],
)
def test_blob_json_is_script_json(texts: list[str], floats: list[Any]) -> None:
    blob = _blob(texts, floats)
    assert items.blob_json(blob) == items.script_json(blob)


def test_blob_json_is_script_json_for_many_floats() -> None:
    xs = _floats(5_000, 2)
    blob = _blob([f"t{i}" for i in range(len(xs))], xs)
    assert items.blob_json(blob) == items.script_json(blob)
    rounded = [round(x, 8) for x in xs if abs(x) < 1e6]
    blob = _blob([f"t{i}" for i in range(len(rounded))], rounded)
    assert items.blob_json(blob) == items.script_json(blob)


def _majority_plain(answers: list[Any], values: list[float]) -> np.ndarray:
    counts, vals, abstain = estimators._classes(answers, values, "abstain")
    out = np.zeros(len(answers))
    for i, (a, v) in enumerate(zip(counts, vals, strict=True)):
        if v == 0.0:
            continue
        others = tuple(sorted(counts[:i] + counts[i + 1 :]))
        out += v * estimators._win_share(a, others, abstain)
    return out


def test_majority_memo_is_the_sum_it_memoises() -> None:
    rng = random.Random(3)
    for _ in range(300):
        m = rng.randint(1, 9)
        answers = [rng.choice(["a", "b", "c", None]) for _ in range(m)]
        value = {"a": 1.0, "b": rng.choice([0.0, 0.5]), "c": 0.0, None: 0.0}
        values = [value[a] for a in answers]
        got = estimators.majority_at_k(answers, values)
        assert np.array_equal(got, _majority_plain(answers, values))
        got[:] = -1  # the caller's copy: the memo is untouched
        assert np.array_equal(
            estimators.majority_at_k(answers, values), _majority_plain(answers, values)
        )


def _num_plain(recs: list[list[dict[str, Any] | None]], get: Any) -> np.ndarray:
    out = np.full((len(recs), len(recs[0]) if recs else 0), np.nan)
    for c, row in enumerate(recs):
        for i, r in enumerate(row):
            if r is None:
                continue
            v = get(r)
            if v is not None:
                try:
                    out[c, i] = float(v)
                except (TypeError, ValueError):
                    pass
    return out


def test_numbers_of_records_as_the_per_record_rule() -> None:
    odd = [1, 2.5, None, True, "3.5", "x", [1, 2], {"a": 1}, -0.0, 10**20, "nan"]
    recs = [[{"v": v} for v in odd] + [None], [{"v": 1.0} for _ in odd] + [None]]
    for get in ("v", lambda r: r.get("v")):
        got = load._num(recs, get)
        want = _num_plain(recs, lambda r: r.get("v"))
        assert np.array_equal(got, want, equal_nan=True)


def _counts_per_piece(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """The former draw: one bincount per piece, rows offset (a frozen copy)."""
    out = np.zeros((n, rows), dtype=np.uint8)
    piece = max(1, min(bootstrap._CHUNK, bootstrap._PIECE_CELLS // n))
    for start in range(0, rows, bootstrap._CHUNK):
        r = min(bootstrap._CHUNK, rows - start)
        for p0 in range(0, r, piece):
            p = min(piece, r - p0)
            draws = rng.integers(0, n, size=(p, n), dtype=np.uint32).astype(np.intp)
            draws *= p
            draws += np.arange(p)[:, None]
            cnt = np.bincount(draws.ravel(), minlength=p * n).reshape(n, p)
            if cnt.max(initial=0) > np.iinfo(out.dtype).max:
                out = out.astype(np.uint16)
            out[:, start + p0 : start + p0 + p] = cnt
        if bootstrap._has_spare(rng.bit_generator):
            bootstrap._drop_spare(rng.bit_generator)
    return out


@pytest.mark.parametrize(("n", "rows"), [(1, 7), (5, 3000), (300, 2100), (257, 40)])
def test_counts_one_resample_at_a_time(monkeypatch: pytest.MonkeyPatch, n: int, rows: int) -> None:
    monkeypatch.setattr(bootstrap, "_PIECE_CELLS", 7 * max(n, 1))
    got = bootstrap._counts(np.random.default_rng(5), rows, n)
    want = _counts_per_piece(np.random.default_rng(5), rows, n)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_a_count_over_255_widens_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force one unit to be drawn 300 times in a resample of 400 draws."""

    class Rigged:
        def __init__(self) -> None:
            self.bit_generator = np.random.default_rng(0).bit_generator

        def integers(self, lo: int, hi: int, size: tuple[int, int], dtype: Any) -> np.ndarray:
            d = np.zeros(size, dtype=dtype)
            d[:, 300:] = np.arange(1, hi - 299)
            return d

    got = bootstrap._counts(Rigged(), 3, 400)  # type: ignore[arg-type]
    assert got.dtype == np.uint16
    assert (got[0] == 300).all() and (got[1:101] == 1).all() and (got[101:] == 0).all()
