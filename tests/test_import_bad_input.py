"""Bad import input: one UserError line naming the file and the line or field, nothing written;
through the CLI, exit code 2 and one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli
from tts_bench.errors import UserError
from tts_bench.importers import import_pools
from tts_bench.store import load_records

GOOD = {"id": "a", "target": "1", "samples": ["Final answer: 1", "Final answer: 2"]}


def jsonl(path: Path, *rows: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


CASES = {
    "empty": (
        lambda d: (d / "p.jsonl").write_text("") and None or d / "p.jsonl",
        {},
        r"p\.jsonl: empty file",
    ),
    "bad_json": (
        lambda d: jsonl(d / "p.jsonl", GOOD, "{not json"),
        {},
        r"p\.jsonl: line 2: invalid JSON",
    ),
    "not_an_object": (
        lambda d: jsonl(d / "p.jsonl", GOOD, [1, 2]),
        {},
        r"p\.jsonl: line 2: expected a JSON object, got list",
    ),
    "lm_eval_bad_json": (
        lambda d: jsonl(d / "samples_x.jsonl", "", "{oops"),
        {"fmt": "lm-eval"},
        r"samples_x\.jsonl: line 2: invalid JSON",
    ),
    "no_target": (
        lambda d: jsonl(d / "p.jsonl", {"id": "a", "samples": ["x"]}),
        {},
        r"p\.jsonl:1: no `target` field",
    ),
    "mixed_sizes": (
        lambda d: jsonl(d / "p.jsonl", GOOD, {**GOOD, "id": "b", "samples": ["x"]}),
        {},
        r"p\.jsonl:2: item 'b' has 1 samples, the first item 2",
    ),
    "dup_id": (
        lambda d: jsonl(d / "p.jsonl", GOOD, GOOD),
        {},
        r"p\.jsonl:2: item 'a' repeats line 1",
    ),
    "not_a_number": (
        lambda d: jsonl(d / "p.jsonl", {**GOOD, "target": "many"}),
        {},
        r"p\.jsonl:1: item 'a': target 'many' is not a number",
    ),
    "bad_sample": (
        lambda d: jsonl(d / "p.jsonl", {**GOOD, "samples": [{"txt": "1"}]}),
        {},
        r"p\.jsonl:1: samples\[0\]: unknown sample field 'txt'",
    ),
    "no_samples": (
        lambda d: jsonl(d / "p.jsonl", {**GOOD, "samples": []}),
        {},
        r"p\.jsonl:1: item 'a' has no samples",
    ),
    "wrong_format": (
        lambda d: jsonl(d / "p.jsonl", GOOD),
        {"fmt": "lm-eval"},
        r"p\.jsonl:1: no `doc_id` field",
    ),
    "unknown_format": (lambda d: jsonl(d / "p.jsonl", GOOD), {"fmt": "csv"}, r"--format 'csv'"),
    "bad_scorer": (lambda d: jsonl(d / "p.jsonl", GOOD), {"scorer": "fuzzy"}, r"--scorer 'fuzzy'"),
    "missing": (lambda d: d / "nope.jsonl", {}, r"nope\.jsonl: file not found"),
    "garbage_eval": (
        lambda d: (d / "x.eval").write_bytes(b"PK\x03\x04garbage") and d / "x.eval",
        {"fmt": "inspect"},
        r"x\.eval: (unreadable Inspect log|not an Inspect log)",
    ),
    "json_not_a_log": (
        lambda d: (d / "x.json").write_text('{"a": 1}') and d / "x.json",
        {"fmt": "inspect"},
        r"x\.json: (unreadable Inspect log|not an Inspect log)",
    ),
    "bad_spec": (
        lambda d: jsonl(d / "p.jsonl", GOOD),
        {"spec": "SPEC"},
        r"spec\.yaml: ident: unknown key",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case):
    make, kw, pattern = CASES[case]
    src = make(tmp_path)
    kw = dict(kw)
    if kw.get("spec") == "SPEC":
        kw["spec"] = tmp_path / "spec.yaml"
        kw["spec"].write_text("ident: qid\n")
    kw.setdefault("fmt", "pool-jsonl")
    kw.setdefault("scorer", "numeric")
    with pytest.raises(UserError, match=pattern) as err:
        import_pools(src, out=tmp_path / "run", **kw)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_or_a_foreign_folder(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD)
    with pytest.raises(UserError, match="is a file, not a directory"):
        import_pools(src, fmt="pool-jsonl", out=src, scorer="numeric")
    # a folder holding other things (like results/): the run goes in a new folder inside it
    parent = tmp_path / "results"
    (parent / "other-run").mkdir(parents=True)
    res = import_pools(src, fmt="pool-jsonl", out=parent, scorer="numeric")
    assert res.run_dir.parent == parent and res.run_dir.name.startswith("import-p-")
    assert (res.run_dir / "records.jsonl").exists()


def test_mixed_sizes_allowed_on_request(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD, {**GOOD, "id": "b", "samples": ["Final answer: 1"]})
    res = import_pools(
        src, fmt="pool-jsonl", out=tmp_path / "run", scorer="numeric", allow_mixed=True
    )
    assert res.pool_size == 2 and any("pool sizes differ" in w for w in res.warnings)


def test_adding_to_a_run_checks_names_scorers_and_kind(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD)
    res = import_pools(src, fmt="pool-jsonl", out=tmp_path / "run", scorer="numeric", config="c")
    with pytest.raises(UserError, match="already has a config 'c'"):
        import_pools(src, fmt="pool-jsonl", out=res.run_dir, config="c")
    with pytest.raises(UserError, match="scores with 'numeric'"):
        import_pools(src, fmt="pool-jsonl", out=res.run_dir, config="d", scorer="exact")
    assert len(load_records(res.run_dir)) == 1  # failed imports added nothing
    native = tmp_path / "native"
    native.mkdir()
    (native / "manifest.json").write_text(json.dumps({"status": "complete", "suite": {}}))
    with pytest.raises(UserError, match="imports can only be added to an imported run"):
        import_pools(src, fmt="pool-jsonl", out=native, scorer="numeric")


def test_cli_exit_2_and_one_line(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD, {"id": "b", "samples": ["x"]})
    proc = cli(
        "import",
        str(src),
        "--format",
        "pool-jsonl",
        "--out",
        str(tmp_path / "run"),
        "--scorer",
        "numeric",
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "p.jsonl:2: no `target` field" in lines[0]
    assert not (tmp_path / "run").exists()


def test_cli_imports_and_adds(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD, {**GOOD, "id": "b"})
    out = tmp_path / "results"
    proc = cli(
        "import",
        str(src),
        "--format",
        "pool-jsonl",
        "--out",
        str(out),
        "--run-id",
        "r1",
        "--scorer",
        "numeric",
        "--config",
        "first",
    )
    assert proc.returncode == 0, proc.stderr
    assert "imported 2 items x 2 samples as config 'first'" in proc.stdout
    proc = cli(
        "import", str(src), "--format", "pool-jsonl", "--out", str(out / "r1"), "--config", "second"
    )
    assert proc.returncode == 0, proc.stderr
    assert {r["config"] for r in load_records(out / "r1")} == {"first", "second"}


SAMPLE = {"id": "a", "epoch": 1, "target": "1", "output": {"completion": "Final answer: 1"}}
LOGS = {
    "eval_not_an_object": ({"eval": 3}, r"not an Inspect log \(no `eval` header object\)"),
    "samples_not_a_list": ({"eval": {}, "samples": 5}, r"`samples` must be a list of objects"),
    "sample_not_an_object": ({"eval": {}, "samples": [3]}, r"`samples` must be a list"),
    "id_a_list": ({"eval": {}, "samples": [{**SAMPLE, "id": [1]}]}, r"a sample has no `id`"),
    "epoch_a_string": (
        {"eval": {}, "samples": [{**SAMPLE, "epoch": "x"}]},
        r"sample 'a': `epoch` must be an integer",
    ),
    "output_a_string": (
        {"eval": {}, "samples": [{**SAMPLE, "output": "1"}]},
        r"sample 'a': `output` must be an object, got str",
    ),
    "metadata_a_list": (
        {"eval": {}, "samples": [{**SAMPLE, "metadata": [1]}]},
        r"`metadata` must be an object",
    ),
    "usage_not_objects": (
        {"eval": {}, "samples": [{**SAMPLE, "model_usage": {"m": 5}}]},
        r"model usage must be objects",
    ),
    "negative_tokens": (
        {"eval": {}, "samples": [{**SAMPLE, "model_usage": {"m": {"input_tokens": -4}}}]},
        r"`input_tokens` must not be negative",
    ),
    "nan_time": (
        {"eval": {}, "samples": [{**SAMPLE, "working_time": float("nan")}]},
        r"`latency_s` must be finite",
    ),
    "deep": ('{"eval": ' + "[" * 100_000, r"JSON nested deeper than 100 levels"),
}


@pytest.mark.parametrize("case", sorted(LOGS))
def test_inspect_log_of_the_wrong_shape_read_by_hand(tmp_path, monkeypatch, case):
    """Without inspect_ai the log is parsed here: every wrong-typed part is one line."""
    from tts_bench.importers import inspect_log

    monkeypatch.setattr(inspect_log, "_with_inspect", lambda path: None)
    log, pattern = LOGS[case]
    src = tmp_path / "x.json"
    src.write_text(log if isinstance(log, str) else json.dumps(log))
    with pytest.raises(UserError, match=pattern) as err:
        import_pools(src, fmt="inspect", out=tmp_path / "run", scorer="numeric")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_inspect_log_read_by_hand_still_imports(tmp_path, monkeypatch):
    from tts_bench.importers import inspect_log

    monkeypatch.setattr(inspect_log, "_with_inspect", lambda path: None)
    src = tmp_path / "x.json"
    src.write_text(json.dumps({"eval": {"task": "t"}, "samples": [SAMPLE, {**SAMPLE, "id": 2}]}))
    res = import_pools(src, fmt="inspect", out=tmp_path / "run", scorer="numeric")
    assert res.n_items == 2 and res.config == "t"


def test_lm_eval_results_file_of_the_wrong_shape_is_ignored(tmp_path):
    """The model name is optional: a results_*.json that is a list or nested too deep is
    passed over, not a crash."""
    src = jsonl(tmp_path / "samples_t_2024.jsonl", {"doc_id": 0, "target": "1", "resps": [["1"]]})
    (tmp_path / "results_1.json").write_text("[1, 2]")
    (tmp_path / "results_2.json").write_text("[" * 100_000)
    res = import_pools(src, fmt="lm-eval", out=tmp_path / "run", scorer="numeric")
    assert res.config == "t"


def test_a_judged_suite_cannot_score_imported_samples(tmp_path):
    src = jsonl(tmp_path / "p.jsonl", GOOD)
    support = Path(__file__).resolve().parents[1] / "suites" / "support.yaml"
    with pytest.raises(UserError, match="scorer type judge cannot score imported samples"):
        import_pools(src, fmt="pool-jsonl", out=tmp_path / "run", suite=support)
    assert not (tmp_path / "run").exists()
