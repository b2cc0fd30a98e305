"""Dataset loading: formats, field mapping, fingerprints, and one-line errors for bad data."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from tts_bench.data import LoadedItem, load_items, read_table, write_table
from tts_bench.errors import UserError
from tts_bench.suite import DatasetSpec

ROWS = [
    {
        "id": f"q{i}",
        "question": f"What is {i} + 1?",
        "answer": i + 1,
        "level": ["easy", "hard"][i % 2],
    }
    for i in range(12)
]


def spec(source: Path | str, **kw) -> DatasetSpec:
    return DatasetSpec.model_validate({"source": str(source), **kw})


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "data.jsonl", ROWS)


def test_load_maps_fields(jsonl: Path) -> None:
    items, fp = load_items(spec(jsonl, fields={"strata": ["level"]}))
    assert len(items) == 12 and len(fp) == 64
    first = items[0]
    assert isinstance(first, LoadedItem)
    assert first.id == "q0" and first.target == 1 and first.strata == {"level": "easy"}
    assert "answer" not in first.inputs  # the target never reaches the prompt inputs
    assert first.inputs["question"] == "What is 0 + 1?" and first.inputs["level"] == "easy"
    assert first.cluster is None


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_round_trip_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    write_table(ROWS, path)
    items, fp = load_items(spec(path, fields={"strata": ["level"]}))
    assert [it.id for it in items] == [r["id"] for r in ROWS]
    assert [it.target for it in items] == [r["answer"] for r in ROWS]
    assert [it.strata["level"] for it in items] == [r["level"] for r in ROWS]
    ref, fp_ref = load_items(
        spec(write_jsonl(tmp_path / "ref.jsonl", ROWS), fields={"strata": ["level"]})
    )
    assert fp == fp_ref  # same rows, same fingerprint, whatever the file format


def test_fingerprint_changes_with_content(tmp_path: Path, jsonl: Path) -> None:
    _, a = load_items(spec(jsonl))
    changed = [dict(r) for r in ROWS]
    changed[3]["answer"] = 99
    _, b = load_items(spec(write_jsonl(tmp_path / "b.jsonl", changed)))
    assert a != b


def test_multi_input_columns_cluster_and_numeric_strata(tmp_path: Path) -> None:
    rows = [
        {"key": i, "context": "c", "q": "x", "gold": "y", "hops": i % 3, "doc": f"d{i // 4}"}
        for i in range(9)
    ]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    fields = {"id": "key", "input": ["context", "q"], "target": "gold", "strata": ["hops"]}
    items, _ = load_items(spec(path, fields={**fields, "cluster": "doc"}))
    assert items[4].id == "4" and items[4].strata == {"hops": "1"} and items[4].cluster == "d1"
    assert set(items[0].inputs) == {"key", "context", "q", "hops", "doc"}


def test_default_id_falls_back_to_row_index(tmp_path: Path) -> None:
    rows = [{"question": "a", "answer": 1}, {"question": "b", "answer": 2}]
    items, _ = load_items(spec(write_jsonl(tmp_path / "noid.jsonl", rows)))
    assert [it.id for it in items] == ["0", "1"]


def test_mixed_value_types_in_jsonl_still_load(tmp_path: Path) -> None:
    rows = [{"id": "a", "question": "q", "answer": 3}, {"id": "b", "question": "q", "answer": "x"}]
    items, _ = load_items(spec(write_jsonl(tmp_path / "mixed.jsonl", rows)))
    assert [it.target for it in items] == [3, "x"]


def test_builtin_source_uses_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def generate(name: str, params: dict) -> list[dict]:
        calls.append((name, params))
        if name != "toy":
            raise UserError(f"builtin:{name}: unknown builtin")
        return [{"id": str(i), "question": "q", "answer": i} for i in range(params["size"])]

    fake = types.ModuleType("tts_bench.data.builtin")
    fake.generate = generate  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tts_bench.data.builtin", fake)
    items, _ = load_items(spec("builtin:toy", params={"size": 5, "seed": 1}))
    assert len(items) == 5 and calls == [("toy", {"size": 5, "seed": 1})]
    with pytest.raises(UserError, match="unknown builtin"):
        read_table("builtin:nope")


def test_hub_offline_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        read_table("hf:nobody/nothing", split="test")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("hf:nobody/nothing: cannot reach the Hugging Face hub (offline")


def test_sampled_load_is_a_subset_and_stable(jsonl: Path) -> None:
    s = spec(jsonl, fields={"strata": ["level"]}, sample={"size": 6, "by": ["level"], "seed": 3})
    a, fa = load_items(s)
    b, fb = load_items(s)
    assert [it.id for it in a] == [it.id for it in b] and fa == fb
    assert sorted(it.strata["level"] for it in a) == ["easy"] * 3 + ["hard"] * 3
    _, full = load_items(spec(jsonl, fields={"strata": ["level"]}))
    assert fa != full


# ---- bad datasets: each is one UserError line naming the file or field -------------------

BAD = {
    "missing file": (lambda d: spec(d / "nope.jsonl"), "not found"),
    "unsupported extension": (
        lambda d: spec(_touch(d / "data.xlsx", "x")),
        "unsupported file type",
    ),
    "empty file": (lambda d: spec(_touch(d / "empty.jsonl", "")), "empty dataset"),
    "blank lines only": (lambda d: spec(_touch(d / "blank.jsonl", "\n\n")), "empty dataset"),
    "bad json line": (
        lambda d: spec(
            _touch(d / "bad.jsonl", '{"id": "a", "question": "q", "answer": 1}\n{oops\n')
        ),
        "line 2: invalid JSON",
    ),
    "non-object line": (lambda d: spec(_touch(d / "arr.jsonl", "[1, 2]\n")), "line 1"),
    "missing input column": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), fields={"input": "prompt"}),
        "fields.input: column 'prompt' not in .* \\(columns: id, question, answer, level\\)",
    ),
    "input is the target": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), fields={"input": ["question", "answer"]}),
        "fields.input: 'answer' is the target column",
    ),
    "directory as source": (lambda d: spec(_mkdir(d / "data.jsonl")), "is a directory"),
    "missing target column": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), fields={"target": "gold"}),
        "fields.target: column 'gold'",
    ),
    "missing strata column": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), fields={"strata": ["domain"]}),
        "fields.strata: column 'domain'",
    ),
    "missing explicit id column": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), fields={"id": "uid"}),
        "fields.id: column 'uid'",
    ),
    "duplicate ids": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS + [ROWS[5]])),
        "duplicate id 'q5'",
    ),
    "null target": (
        lambda d: spec(write_jsonl(d / "d.jsonl", [*ROWS, {**ROWS[0], "id": "z", "answer": None}])),
        "item 'z' .* has no target",
    ),
    "sample larger than population": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), sample={"size": 50}),
        "sample.size: 50 is more than the 12 items",
    ),
    "sample.by not a strata column": (
        lambda d: spec(write_jsonl(d / "d.jsonl", ROWS), sample={"size": 4, "by": ["level"]}),
        "sample.by: 'level' is not a strata column",
    ),
    "minimums exceed size": (
        lambda d: spec(
            write_jsonl(d / "d.jsonl", ROWS),
            fields={"strata": ["level"]},
            sample={"size": 4, "min_per_stratum": 3},
        ),
        "min_per_stratum 3 x 2 strata needs 6 items",
    ),
    "malformed csv": (
        lambda d: spec(_touch(d / "bad.csv", 'id,question,answer\n1,"unclosed,2\n')),
        "bad.csv: cannot read csv file: .*EOF inside string",
    ),
    "corrupt parquet": (
        lambda d: spec(_touch(d / "bad.parquet", "not parquet")),
        "cannot read parquet",
    ),
    "not utf-8 csv": (
        lambda d: spec(_touch_bytes(d / "latin.csv", b"id,q\n1,\xe9\xff\n")),
        "UTF-8",
    ),
}


def _touch(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _touch_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_datasets_give_one_line(tmp_path: Path, case: str) -> None:
    make, pattern = BAD[case]
    with pytest.raises(UserError, match=pattern) as err:
        load_items(make(tmp_path), where="suite.yaml: dataset")
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 400


def test_local_load_leaves_no_cache_behind(tmp_path: Path, jsonl: Path) -> None:
    # datasets would write ~/.cache/huggingface/datasets/json/... without our temp cache dir
    import os
    import subprocess

    home = tmp_path / "home"
    home.mkdir()
    code = (
        "from tts_bench.data import load_items; from tts_bench.suite import DatasetSpec; "
        f"print(len(load_items(DatasetSpec(source={str(jsonl)!r}))[0]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_"))}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "12"
    assert list(home.rglob("*")) == []


def test_source_errors_name_the_suite_field(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"^suite.yaml: dataset\.source: .*nope\.jsonl: dataset file not found$"
    ):
        load_items(spec(tmp_path / "nope.jsonl"), where="suite.yaml: dataset")


def test_hub_offline_via_datasets_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UserError, match=r"cannot reach the Hugging Face hub \(offline"):
        read_table("hf:nobody/nothing")


def test_iter_jsonl_strict_names_the_line_and_skips_blanks(tmp_path):
    from tts_bench.data.loader import iter_jsonl_strict

    path = _touch(tmp_path / "d.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    assert list(iter_jsonl_strict(path)) == [(1, {"a": 1}), (3, {"a": 2})]
    _touch(path, '{"a": 1}\n\n{"a": \n')
    with pytest.raises(UserError, match=r"d\.jsonl: line 3: invalid JSON \(Expecting value\)$"):
        list(iter_jsonl_strict(path))


# Local files are read with the stdlib; these files must come out exactly as datasets (pandas,
# pyarrow) reads them: same columns in the same order, same values and types.
SAME_AS_DATASETS = {
    "keys.jsonl": '{"id": "a", "q": "x", "n": 1}\n{"q": "y", "id": "b", "extra": true}\n',
    "numbers.jsonl": '{"a": 1, "b": 2.5, "c": -3}\n{"a": 2.0, "b": 1, "c": null}\n',
    "nested.jsonl": (
        '{"choices": ["A", "B"], "meta": {"src": "s1", "k": 1}, "w": [1, 2.5], "e": []}\n'
        '{"choices": [], "meta": {"src": null, "k": 2.5}, "w": null, "e": [null]}\n'
    ),
    "text.jsonl": '{"t": "12:30", "u": "naïve — ok", "v": "", "z": null}\n{"t": "1-2", "z": null}\n',
    "array.json": '[{"id": 1, "q": "x"}, {"id": 2, "q": "y", "r": 0.5}]',
    "lines.json": '{"id": 1, "q": "x"}\n\n{"id": 2, "q": "y"}\n',
    "types.csv": ("id,a,b,c,d,e,f,g,h\n1,007,1.5,True,x,,+5,true,-0.25\n2,3,2,False,5,,6,abc,10\n"),
    "long floats.csv": "id,a\n1,0.03238327648331624\n2,0.032383276483316241\n3,1.5\n",
    "text and numbers.csv": "id,a,b\n1,abc,x\n2,1e5,9223372036854775808\n3,inf,5\n4, 5,\n",
    "missing.csv": "id,a,b,c,d\n1,1,True,,NA\n2,,,x,None\n3,4,FALSE,y,z\n",
    "quoted.csv": (
        '\ufeffid,question,answer\r\n"q1","a, b ""c""\r\nand a second line",  spaced \r\n'
        'q2,plain,"42"\r\n\r\nq3,"naïve",0.1234567890123\r\n'
    ),
}


def _typed(value):
    """A value with its types spelled out (1 and 1.0 and True differ; key order counts)."""
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("name", sorted(SAME_AS_DATASETS))
def test_stdlib_read_gives_what_datasets_gives(tmp_path: Path, name: str) -> None:
    from tts_bench.data import loader, stdlib_rows

    path = tmp_path / name
    path.write_text(SAME_AS_DATASETS[name], encoding="utf-8", newline="")
    fast = stdlib_rows.csv_rows(path) if name.endswith(".csv") else None
    if name.endswith(".jsonl"):
        fast = stdlib_rows.like_arrow(loader._scan_jsonl(path))
    elif name.endswith(".json"):
        fast = stdlib_rows.json_rows(path.read_text(encoding="utf-8"))
    if fast is None and name == "long floats.csv" and not loader._pandas_rounds_like_float():
        pytest.skip("this pandas may round long decimals differently: datasets reads them")
    assert fast is not None  # read without datasets
    fmt = "csv" if name.endswith(".csv") else "json"
    ds = loader._datasets().load_dataset(
        fmt, data_files=str(path), split="train", cache_dir=str(tmp_path / "c"), keep_in_memory=True
    )
    assert _typed(fast) == _typed(ds.to_list())
    assert read_table(str(path)) == fast


UNSURE = {
    "dates.jsonl": '{"d": "2020-01-01"}\n',  # pyarrow makes a timestamp of it
    "mixed.jsonl": '{"a": 1}\n{"a": "x"}\n',
    "structs.jsonl": '{"m": {"a": 1}}\n{"m": {"b": 1}}\n',
    "spaced.csv": "id,a\n1, 5\n",
    "exponent.csv": "id,a\n1,1e5\n",
    "ragged.csv": "id,a\n1,2,3\n",
    "dup.csv": "id,id\n1,2\n",
    "past 64 bits.csv": "id,a\n1,9223372036854775808\n2,0.5\n",
    "other digits.csv": "id,a\n1,\u0661\u0662\n",
    "spaced words.csv": "id,a,b\n1,True ,x\n",
}


@pytest.mark.parametrize("name", sorted(UNSURE))
def test_files_the_stdlib_might_read_differently_go_to_datasets(tmp_path: Path, name: str):
    from tts_bench.data import loader, stdlib_rows

    path = tmp_path / name.replace(" ", "_")
    path.write_text(UNSURE[name], encoding="utf-8")
    if name.endswith(".csv"):
        assert stdlib_rows.csv_rows(path) is None
    else:
        assert stdlib_rows.like_arrow(loader._scan_jsonl(path)) is None


def test_local_jsonl_and_csv_load_without_datasets(tmp_path: Path) -> None:
    import subprocess

    write_jsonl(tmp_path / "d.jsonl", ROWS)
    (tmp_path / "d.csv").write_text("id,question,answer\nq1,x,1\nq2,y,2\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from tts_bench.data import read_table\n"
        f"assert len(read_table({str(tmp_path / 'd.jsonl')!r})) == 12\n"
        f"assert read_table({str(tmp_path / 'd.csv')!r})[1] == "
        "{'id': 'q2', 'question': 'y', 'answer': 2}\n"
        "print(sorted(m for m in ('datasets', 'pandas', 'pyarrow') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
