"""The batch checks and the block reader agree with the per-object, line-by-line path.

- `objects_ok` / `records_ok` never accept what `_fields_ok` + `_figures_ok` / `_record_ok`
  refuse, and accept what they accept (short of ints past float range);
- `read_jsonl_lines` gives `iter_jsonl_lines`'s objects, line numbers, torn-line handling and
  first error, whatever the block size;
- `load_calls` / `load_records` raise the per-object path's message for a bad line deep in a
  file, and return the same objects.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from tts_bench import store
from tts_bench.errors import UserError
from tts_bench.jsonl import iter_jsonl_blocks, iter_jsonl_lines, read_jsonl_lines
from tts_bench.store_checks import (
    _CALL_TYPES,
    _COUNTS,
    _FIGURES,
    _SAMPLE_TYPES,
    _check_fields,
    _check_figures,
    _check_record,
    _fields_ok,
    _figures_ok,
    _record_ok,
    objects_ok,
    records_ok,
)

HUGE = 10**400  # an int past float range: refused (no figure downstream holds it)
FIGURE_VALUES: list[Any] = [
    None, 0, 1, 7, -1, 0.0, -0.0, 0.5, 1.0, 1.5, 3.0, -0.5, math.nan, math.inf, -math.inf,
    True, False, "1", [1], {}, 2**63, 10**30, HUGE, -HUGE, 1e308,
]  # fmt: skip
FIELD_VALUES: list[Any] = [None, "s", "", 1, 0, 1.5, True, False, [], [1], {}, {"a": 1}]


def _one_ok(obj: dict[str, Any], types: dict[str, tuple[type, ...]], skip: str | None) -> bool:
    return _fields_ok(obj, types) and _figures_ok(obj, skip)


def _agrees(objs: list[dict[str, Any]], types: dict[str, tuple[type, ...]], skip: str | None):
    batch = objects_ok(objs, types, skip) is not None
    each = all(_one_ok(o, types, skip) for o in objs)
    assert batch == each, objs  # never accepts what the per-object check refuses, nor more


def _base(rng: random.Random) -> dict[str, Any]:
    return {
        "item_id": "i",
        "role": "sample",
        "input_tokens": rng.randint(0, 9),
        "cost_usd": rng.random(),
        "latency_s": None,
        "cache_hit": rng.random() < 0.5,
        "sample_index": 0,
    }


@pytest.mark.parametrize("types,skip", [(_CALL_TYPES, None), (_SAMPLE_TYPES, "score")])
def test_every_figure_and_field_value_alone_and_among_good_ones(types, skip) -> None:
    rng = random.Random(7)
    keys = sorted({*_FIGURES, *types})
    for key in keys:
        for value in [*FIGURE_VALUES, *FIELD_VALUES]:
            bad = {**_base(rng), key: value}
            _agrees([bad], types, skip)
            crowd = [_base(rng) for _ in range(30)]
            for at in (0, 17, 30):  # first, deep inside, last
                _agrees([*crowd[:at], bad, *crowd[at:]], types, skip)
            # the same key set in another order, and a key missing: other groups
            _agrees([*crowd, dict(reversed(bad.items()))], types, skip)
            _agrees(
                [{k: v for k, v in b.items() if k != "cost_usd"} for b in crowd] + [bad],
                types,
                skip,
            )


def test_random_columns_of_mixed_types_and_key_sets() -> None:
    rng = random.Random(11)
    pool = [*FIGURE_VALUES, *FIELD_VALUES, 0.25, 2, 12.0]
    for _ in range(3000):
        n = rng.randint(1, 12)
        keys = rng.sample(sorted({*_FIGURES, *_CALL_TYPES, "extra"}), rng.randint(1, 6))
        objs = []
        for _ in range(n):
            obj = {k: rng.choice(pool) if rng.random() < 0.3 else _good(k, rng) for k in keys}
            if rng.random() < 0.2:
                obj.pop(rng.choice(keys))
            objs.append(obj)
        _agrees(objs, _CALL_TYPES, None)
        _agrees(objs, _SAMPLE_TYPES, "score")


def _good(key: str, rng: random.Random) -> Any:
    if key in _COUNTS:
        return rng.choice([0, 3, 4.0, None])
    if key == "confidence":
        return rng.choice([0, 1, 0.5, 1.0, None])
    if key in _FIGURES:
        return rng.choice([0, 2, 0.5, -0.0, None])
    allowed = _CALL_TYPES.get(key, (str,))
    return {str: "x", int: 3, bool: False}[allowed[0]]


def _record(rng: random.Random, i: int, n_samples: int) -> dict[str, Any]:
    samples = [
        {"answer": "a", "correct": True, "value": rng.random(), "score": -rng.random() * 5}
        for _ in range(n_samples)
    ]
    return {
        "item_id": f"q{i}",
        "config": rng.choice(["a", "b"]),
        "strata": {"level": rng.choice(["x", "y", 3])},
        "cost_usd": rng.random(),
        "input_tokens": rng.randint(0, 100),
        "confidence": rng.choice([None, 0.5, 1]),
        "samples": samples or None,
    }


RECORD_CHANGES: list[tuple[str, Any]] = [
    ("strata", {"level": {"x": 1}}),
    ("strata", {"level": [1]}),
    ("strata", {}),
    ("strata", "x"),
    ("config", "c"),
    ("config", 5),
    ("samples", []),
    ("samples", [1]),
    ("samples", [None]),
    ("samples", [{"score": -3.0}]),
    ("samples", [{"score": math.nan}]),
    ("samples", [{"value": -1.0}]),
    ("samples", [{"value": math.inf}]),
    ("samples", [{"correct": 1}]),
    ("samples", [{"answer": 3}]),
    ("samples", [{"output_tokens": 2.5}]),
    ("samples", [{"confidence": 1.5}]),
    ("samples", [{"value": HUGE}]),
    ("samples", "x"),
    ("cluster", 3),
    ("cluster", True),
    ("correct", 1),
    ("n_calls", 1.5),
    ("n_calls", 2.0),
    ("eval_cost_usd", -0.0),
    ("confidence", 1.0000001),
    ("latency_s", math.nan),
    ("info", []),
]


def test_records_ok_reads_configs_as_their_text() -> None:
    """1, True and 1.0 are equal keys of a set but three different configs as text."""
    rng = random.Random(4)
    recs = [_record(rng, i, 0) for i in range(2)]
    for first, second in ((1, True), (1, 1.0)):
        recs[0]["config"], recs[1]["config"] = first, second
        assert records_ok(recs, {"1"}) is all(_record_ok(r, {"1"}) for r in recs) is False


@pytest.mark.parametrize("known", [None, {"a", "b"}, {"a", "b", "5"}])
def test_records_ok_agrees_with_record_ok(known) -> None:
    rng = random.Random(3)
    good = [_record(rng, i, rng.choice([0, 0, 1, 3])) for i in range(40)]
    assert records_ok(good, known) is all(_record_ok(r, known) for r in good)
    for key, value in RECORD_CHANGES:
        for at in (0, 23, 39):
            recs = [dict(r) for r in good]
            if key == "samples" and isinstance(value, list):
                recs[at]["samples"] = [*(recs[at]["samples"] or []), *value]
            else:
                recs[at][key] = value
            each = all(_record_ok(r, known) for r in recs)
            batch = records_ok(recs, known)
            assert batch == each, (key, value)


# ---- the block reader against the line-by-line reader


def _lines_case(rng: random.Random) -> list[bytes]:
    good = [
        b'{"a": 1, "b": [1, 2]}\n',
        b'{"x": "\\u00e9", "n": null}\n',
        b'{"a": 1234567890123456789}\n',
        b'{"a": 123456789012345678, "b": 0.30000000000000004}\n',
        b'{"a": 0.00012345678901234567}\n',
        b'{"a": 12345678901234567890123}\n',
        b'{"a": NaN}\n',
        b'{"a": "\\ud800"}\n',
        b"\n",
        b"   \n",
        b'  {"lead": 1}\n',
        b'{"d": ' + b"[" * 99 + b"]" * 99 + b"}\n",
        b'{"a": 1, "a": 2}\r\n',
    ]
    bad = [
        b"[1, 2]\n",
        b'{"a": 1\n',
        b'{"a": "\xff"}\n',
        b'{"d": ' + b"[" * 101 + b"]" * 101 + b"}\n",
        b'{"a": 1} x\n',
        b"12345678901234567890\n",
    ]
    lines = [rng.choice(good) for _ in range(rng.randint(0, 40))]
    if rng.random() < 0.4:
        lines.insert(rng.randint(0, len(lines)), rng.choice(bad))
    if rng.random() < 0.4:  # a torn last line, whole or cut
        last = rng.choice(good + bad)
        lines.append(last[: rng.randint(0, len(last))] if rng.random() < 0.5 else last[:-1])
    return lines


def _streamed(path: Path) -> tuple[list[int], list[Any], str | None]:
    numbers, objects = [], []
    try:
        for n, obj in iter_jsonl_lines(path):
            numbers.append(n)
            objects.append(obj)
    except UserError as exc:
        return numbers, objects, str(exc)
    return numbers, objects, None


def _no_key_b(objs: list[dict[str, Any]]) -> bool:
    return all("b" not in obj for obj in objs)


def test_block_reader_gives_the_streamed_objects_and_first_error(tmp_path: Path) -> None:
    rng = random.Random(5)
    path = tmp_path / "f.jsonl"
    for _ in range(400):
        path.write_bytes(b"".join(_lines_case(rng)))
        want = _streamed(path)
        for block_size, batch in ((1, 1), (7, 2), (64, 3), (1 << 20, 2048)):
            got = read_jsonl_lines(path, _no_key_b, block_size=block_size, batch=batch)
            error = None if got.error is None else str(got.error)
            assert (got.numbers, got.objects, error) == want
            assert json.dumps(got.objects) == json.dumps(want[1])  # NaN and -0.0 too
            assert got.passed is _no_key_b(want[1])  # every object went through the check
            if block_size in (1, 64):
                continue  # the block-at-a-time reader at two sizes: cut and uncut blocks
            # a block at a time: the same objects and error, each block's check its own
            numbers, objects, errors, passed = [], [], [], []
            for part in iter_jsonl_blocks(path, _no_key_b, block_size=block_size, batch=batch):
                numbers += part.numbers
                objects += part.objects
                errors.append(None if part.error is None else str(part.error))
                passed.append(part.passed is _no_key_b(part.objects))
            assert (numbers, objects, errors[-1] if errors else None) == want
            assert all(passed) and all(e is None for e in errors[:-1])
    assert read_jsonl_lines(tmp_path / "missing.jsonl").objects == []
    assert list(iter_jsonl_blocks(tmp_path / "missing.jsonl")) == []


# ---- load_calls / load_records against the per-object path


def _per_object_calls(run: Path) -> list[dict[str, Any]]:
    path = run / store.CALLS
    out = []
    for n, call in iter_jsonl_lines(path):
        if not (_fields_ok(call, _CALL_TYPES) and _figures_ok(call, None)):
            _check_fields(call, _CALL_TYPES, f"{path}:{n}")
            _check_figures(call, f"{path}:{n}")
        out.append(call)
    return out


def _per_object_records(run: Path) -> list[dict[str, Any]]:
    path = run / store.RECORDS
    latest = {}
    for n, rec in iter_jsonl_lines(path):
        latest[store._key(rec, f"{path}:{n}")] = (n, rec)
    known = store._known_configs(run) if latest else None
    for n, rec in latest.values():
        _check_record(rec, f"{path}:{n}", known)
    return [rec for _, rec in latest.values()]


def _outcome(load, run: Path) -> tuple[str, Any]:
    try:
        return "ok", load(run)
    except UserError as exc:
        return "error", str(exc)


CALL_BREAKS = [
    '"input_tokens": -1',
    '"input_tokens": 2.5',
    '"input_tokens": true',
    '"cost_usd": NaN',
    '"cost_usd": Infinity',
    '"confidence": 1.5',
    '"role": 3',
    '"cache_hit": 1',
    '"sample_index": 1.0',
    '"output_tokens": 1' + "0" * 400,
    '"text": ["x"]',
]


def _calls(n: int) -> list[str]:
    return [
        json.dumps(
            {"item_id": f"q{i}", "role": "sample", "sample_index": 0, "input_tokens": i,
             "cost_usd": i / 7, "latency_s": 0.5, "cache_hit": False, "text": "t"}
        )
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize("fault", CALL_BREAKS)
def test_load_calls_names_a_bad_line_deep_inside_like_before(tmp_path: Path, fault) -> None:
    lines = _calls(500)
    lines[321] = lines[321][:-1] + ", " + fault + "}"
    (tmp_path / store.CALLS).write_text("\n".join(lines) + "\n")
    got = _outcome(store.load_calls, tmp_path)
    assert got == _outcome(_per_object_calls, tmp_path)
    assert got[0] == "error" or fault.startswith('"output_tokens"')  # a huge count is fine
    if got[0] == "error":
        assert f"{tmp_path / store.CALLS}:322" in got[1]


def test_load_calls_a_bad_figure_before_a_damaged_line_is_named_first(tmp_path: Path) -> None:
    lines = _calls(300)
    lines[100] = lines[100][:-1] + ', "input_tokens": -5}'
    lines[200] = "[1]"
    (tmp_path / store.CALLS).write_text("\n".join(lines) + "\n")
    got = _outcome(store.load_calls, tmp_path)
    assert got == _outcome(_per_object_calls, tmp_path) and ":101:" in got[1]
    lines[100] = lines[101]
    (tmp_path / store.CALLS).write_text("\n".join(lines) + "\n")
    got = _outcome(store.load_calls, tmp_path)
    assert got == _outcome(_per_object_calls, tmp_path) and ":201:" in got[1]


def test_load_calls_same_objects_with_a_torn_last_line(tmp_path: Path) -> None:
    lines = _calls(50)
    (tmp_path / store.CALLS).write_text("\n".join(lines) + "\n" + lines[0][:30])
    assert store.load_calls(tmp_path) == _per_object_calls(tmp_path)


RECORD_BREAKS = [
    ('"samples": [{"score": -2.0}, {"value": -1}]', True),
    ('"samples": [{"score": -2.0}, 3]', True),
    ('"samples": [{"correct": "yes"}]', True),
    ('"strata": {"level": [1]}', True),
    ('"config": "zz"', True),
    ('"config": ""', True),
    ('"item_id": null', True),
    ('"n_calls": 1.5', True),
    ('"confidence": 2', True),
    ('"cost_usd": -0.0', False),
    ('"samples": [{"score": -1e300}]', False),
]


@pytest.mark.parametrize("fault,fails", RECORD_BREAKS)
def test_load_records_names_a_bad_record_deep_inside_like_before(
    tmp_path: Path, fault, fails
) -> None:
    manifest = {"configs": [{"name": "a"}, {"name": "b"}]}
    (tmp_path / store.MANIFEST).write_text(json.dumps(manifest))
    rng = random.Random(2)
    lines = [json.dumps(_record(rng, i, rng.choice([0, 2]))) for i in range(400)]
    lines.append(lines[250])  # a repeated (item, config): the last line wins
    lines[287] = lines[287][:-1] + ", " + fault + "}"
    (tmp_path / store.RECORDS).write_text("\n".join(lines) + "\n")
    got = _outcome(store.load_records, tmp_path)
    assert got == _outcome(_per_object_records, tmp_path)
    assert (got[0] == "error") is fails
    if fails:
        assert f"{tmp_path / store.RECORDS}:288" in got[1]


def test_load_records_a_bad_line_overridden_by_a_later_one_is_no_error(tmp_path: Path) -> None:
    rng = random.Random(4)
    lines = [json.dumps(_record(rng, i, 1)) for i in range(300)]
    lines.append(lines[120])  # the winning line for that (item, config)
    lines[120] = lines[120][:-1] + ', "cost_usd": -1, "samples": [7]}'
    (tmp_path / store.RECORDS).write_text("\n".join(lines) + "\n")
    got = _outcome(store.load_records, tmp_path)
    assert got == _outcome(_per_object_records, tmp_path) and got[0] == "ok"
