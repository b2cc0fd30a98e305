"""The item explorer reads calls once, as a stream, and keeps a compact row of each: the pages
are the ones the call dicts give, and a damaged calls.jsonl line still stops the report before
anything is written."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tts_bench import store
from tts_bench.errors import UserError
from tts_bench.report import html as html_mod
from tts_bench.report import items, write_all
from tts_bench.report.synthetic import write_synthetic_run

CONFIGS = ["a", "b"]


def _records() -> list[dict[str, Any]]:
    return [
        {
            "item_id": f"i{n}",
            "config": config,
            "strata": {"level": str(n % 2)},
            "target": "1",
            "answer": "1",
            "output": f"out {n} {config}",
            "correct": n % 3 == 0,
            "failure": None if n % 3 == 0 else "wrong",
            "cost_usd": 0.001 * n,
            "latency_s": 0.5,
        }
        for n in range(7)
        for config in CONFIGS
    ]


def _calls() -> list[dict[str, Any]]:
    """Calls of every shape the explorer meets: missing fields, a non-string role or model,
    no text, figures unknown or tiny, and calls whose item or config has no record."""
    out: list[dict[str, Any]] = []
    for n in range(7):
        for config in CONFIGS:
            for k in range(3):
                out.append(
                    {
                        "item_id": f"i{n}",
                        "config": config,
                        "role": "sample" if k else "judge",
                        "sample_index": k,
                        "model": f"m{k % 2}",
                        "input_tokens": 10 + k,
                        "output_tokens": 300 * n,
                        "reasoning_tokens": 0,
                        "cost_usd": 1.23456789e-5 * (n + 1),
                        "latency_s": 0.1234567 * k,
                        "status": "ok" if k < 2 else "error",
                        "cache_hit": k == 1,
                        "text": f"text {n} {config} {k}" if k != 2 else None,
                    }
                )
    out += [
        {"item_id": "i1", "config": "a"},  # nothing but its pair
        {"item_id": "i2", "config": "b", "role": 7, "model": None, "cost_usd": None},
        {"item_id": "i3", "config": "a", "role": "", "model": 3, "latency_s": 2, "text": ""},
        {"item_id": "i4", "config": "a", "cost_usd": float("nan"), "latency_s": float("inf")},
        {"item_id": "gone", "config": "a", "role": "sample", "text": "an item with no record"},
        {"item_id": "i5", "config": "zz", "role": "sample", "text": "a config with no record"},
        {"item_id": "i6", "config": "b", "role": "sample", "text": "out 6 b"},  # = the output
    ]
    return out


def _rounded(x: Any, digits: int) -> float | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
    return round(float(x), digits) if ok else None


def _shown(blob: dict[str, Any]) -> dict[tuple[str, str], list[list[Any]]]:
    """Every call the blob shows, by (item, config), its indices resolved to values."""
    out = {}
    for iid, _target, _strata, cells in blob["items"]:
        for config, cell in zip(blob["configs"], cells, strict=True):
            if cell is None:
                continue
            out[iid, config] = [
                [
                    blob["roles"][c[0]],
                    *c[1:2],
                    blob["models"][c[2]],
                    *c[3:10],
                    None if c[10] == -1 else blob["texts"][c[10]],
                ]
                for c in cell[6]
            ]
    return out


def _expected(records: list[dict[str, Any]], calls: list[dict[str, Any]]):
    """What the explorer shows of each call dict (the module doc's call layout)."""
    pairs = {(r["item_id"], r["config"]) for r in records}
    out: dict[tuple[str, str], list[list[Any]]] = {pair: [] for pair in pairs}
    for c in calls:
        pair = (str(c.get("item_id")), str(c.get("config")))
        if pair in pairs:
            out[pair].append(
                [
                    str(c.get("role") or ""),
                    c.get("sample_index"),
                    str(c.get("model") or ""),
                    c.get("input_tokens"),
                    c.get("output_tokens"),
                    c.get("reasoning_tokens"),
                    _rounded(c.get("cost_usd"), 8),
                    _rounded(c.get("latency_s"), 3),
                    c.get("status"),
                    1 if c.get("cache_hit") else 0,
                    c.get("text"),
                ]
            )
    return out


def test_item_blob_shows_every_call_dict_as_the_layout_says() -> None:
    records, calls = _records(), _calls()
    blob = items.item_blob(records, calls, CONFIGS, "a")
    assert _shown(blob) == _expected(records, calls)
    assert "a config with no record" not in blob["texts"]
    assert "an item with no record" not in blob["texts"]
    assert blob["texts"].count("out 6 b") == 1  # a call's text equal to the output: once
    json.dumps(blob, allow_nan=False)  # NaN and inf were shown as unknown


@pytest.mark.parametrize("page_cells", [4, 6, 10_000])
def test_pages_of_a_stream_are_the_pages_of_the_dicts(page_cells: int) -> None:
    records, calls = _records(), _calls()
    streamed = items.Pages(records, iter(calls), CONFIGS, "a", page_cells=page_cells)
    listed = items.Pages(records, calls, CONFIGS, "a", page_cells=page_cells)
    blobs = [streamed.blob(p) for p in range(streamed.count)]
    assert blobs == [listed.blob(p) for p in range(listed.count)]
    assert [items.blob_json(b) for b in blobs] == [
        items.blob_json(listed.blob(p)) for p in range(listed.count)
    ]
    shown: dict[tuple[str, str], list[list[Any]]] = {}
    for b in blobs:
        shown.update(_shown(b))
    assert shown == _expected(records, calls)
    if streamed.count == 1:  # one page: item_blob's blob of the dicts, plus the pages block
        whole = dict(blobs[0])
        del whole["pages"]
        assert whole == items.item_blob(records, calls, CONFIGS, "a", labels=streamed.labels)


def test_pages_keep_tuples_sharing_their_short_strings() -> None:
    records = _records()
    calls = [dict(c) for c in _calls()]
    pages = items.Pages(records, iter(calls), CONFIGS, "a")
    rows = [row for rs in pages._calls.values() for row in rs]
    assert rows and all(type(row) is tuple for row in rows)
    assert "gone" not in pages._calls  # an item with no record keeps nothing
    by_value: dict[str, set[int]] = {}
    for row in rows:
        for value in (row[0], row[1], row[3], row[9]):  # config, role, model, status
            if isinstance(value, str):
                by_value.setdefault(value, set()).add(id(value))
    assert all(len(ids) == 1 for ids in by_value.values()), by_value


def _call_line(n: int, **fields: Any) -> str:
    call = {"item_id": f"i{n}", "config": "a", "role": "sample", "cost_usd": 0.1, **fields}
    return json.dumps(call) + "\n"


def _outcome(run: Path, read: Any) -> tuple[int, str]:
    """(calls read before the error, its message); the message is "" when there is none."""
    seen = 0
    try:
        for _ in read(run):
            seen += 1
    except UserError as exc:
        return seen, str(exc)
    return seen, ""


@pytest.mark.parametrize(
    "bad",
    [
        _call_line(0, cost_usd=-1.0),  # a figure the checks refuse
        _call_line(0, role=["x"]),  # a field of the wrong type
        "{not json\n",  # a damaged line
    ],
)
def test_iter_calls_yields_the_calls_before_a_bad_line_then_load_calls_message(
    tmp_path: Path, bad: str
) -> None:
    count = 2058  # a few thousand calls before the bad line
    lines = [_call_line(n) for n in range(count)] + [bad, _call_line(count)]
    (tmp_path / store.CALLS).write_text("".join(lines))
    seen, message = _outcome(tmp_path, store.iter_calls)
    with pytest.raises(UserError) as loaded:
        store.load_calls(tmp_path)
    assert message == str(loaded.value)
    assert message.startswith(f"{tmp_path / store.CALLS}:{count + 1}")
    # a bad figure is found by its block's check before the block is handed out; a damaged
    # line ends the reading once the calls before it are out
    assert seen == (count if bad.startswith("{not") else 0)


def test_load_calls_is_the_stream_as_a_list(tmp_path: Path) -> None:
    lines = [_call_line(n, text=f"t{n}") for n in range(4099)]
    (tmp_path / store.CALLS).write_text("".join(lines) + '{"item_id": "torn"')
    assert store.load_calls(tmp_path) == list(store.iter_calls(tmp_path))
    assert len(store.load_calls(tmp_path)) == len(lines)  # the torn last line: skipped
    assert store.load_calls(tmp_path / "nowhere") == []


def test_a_damaged_calls_line_leaves_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_mod, "all_plots", lambda vm, lat: [])  # a fixed cost: left out
    monkeypatch.setattr(items, "PAGE_CELLS", 40)  # a few explorer pages in report-items/
    run = write_synthetic_run(tmp_path / "r", items=30, configs=2, text_chars=50)
    write_all(run, resamples=100)
    outputs = ["report.html", "summary.md", "summary.json", "recommended-policy.yaml"]
    before = {name: (run / name).read_bytes() for name in outputs}
    pages = {p.name: p.read_bytes() for p in (run / items.PAGES_DIR).iterdir()}
    assert pages
    lines = (run / store.CALLS).read_text().splitlines(keepends=True)
    bad_line = len(lines) - 3
    lines[bad_line - 1] = '{"item_id": "x", "config": \n'
    (run / store.CALLS).write_text("".join(lines))
    with pytest.raises(UserError, match=rf"{store.CALLS}:{bad_line}:"):
        write_all(run, resamples=100)
    assert {name: (run / name).read_bytes() for name in outputs} == before
    assert {p.name: p.read_bytes() for p in (run / items.PAGES_DIR).iterdir()} == pages
    assert not [p for p in run.iterdir() if p.name.startswith(".") and p.is_dir()]
