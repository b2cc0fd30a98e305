"""`tts_bench.load` and `tts-bench export`: records flattened (strata, info), pool samples and
calls as DataFrames, written as CSV and Parquet that read back with one type per column."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.test_runs_cli import _tiny, run_cli
from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.export import export_run, frames, record_row
from tts_bench.suite import parse


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    suite = parse(_tiny(size=6), "suite", ROOT / "suites")
    return runner.run(suite, out_dir=out, run_id="r", use_cache=False).run_dir


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_load_gives_flat_records_samples_and_calls(run_dir):
    import tts_bench

    data = tts_bench.load(run_dir)
    recs, calls = _jsonl(run_dir / "records.jsonl"), _jsonl(run_dir / "calls.jsonl")
    assert len(data.records) == len(recs) == 12
    assert "strata" not in data.records and "samples" not in data.records
    assert list(data.records["stratum.difficulty"]) == [r["strata"]["difficulty"] for r in recs]
    sc = data.records[data.records["config"] == "sc"]
    assert list(sc["n_samples"]) == [3] * 6
    assert data.records[data.records["config"] == "single"]["n_samples"].isna().all()
    # votes are keyed by answer: one JSON column, not a column per answer
    votes = [json.loads(v) for v in sc["info.votes"]]
    assert votes == [r["info"]["votes"] for r in recs if r["config"] == "sc"]
    assert len(data.samples) == 18 and list(data.samples["sample"][:3]) == [0, 1, 2]
    first = next(r for r in recs if r["config"] == "sc")
    mine = data.samples[data.samples["item_id"] == first["item_id"]]
    assert list(mine["answer"]) == [s["answer"] for s in first["samples"]]
    assert mine["cost_usd"].sum() == pytest.approx(first["cost_usd"])
    assert len(data.calls) == len(calls) and data.manifest["run_id"] == "r"


def test_record_row_flattens_one_level_and_keeps_declared_strata_order():
    rec = {
        "item_id": "a",
        "config": "c",
        "strata": {"topic": "x", "level": "hard"},
        "info": {"route": "big", "nodes": {"1": 2}},
        "metrics": {"precision": 0.5},
        "samples": None,
    }
    row = record_row(rec, ["level", "topic", "extra"])
    assert list(row)[-3:] == ["stratum.level", "stratum.topic", "stratum.extra"]
    assert row["stratum.extra"] is None and row["n_samples"] is None
    assert row["info.route"] == "big" and row["info.nodes"] == {"1": 2}
    assert row["metrics.precision"] == 0.5


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_three_tables_that_read_back(run_dir, tmp_path, fmt):
    paths = export_run(run_dir, fmt, tmp_path / fmt)
    assert [p.name for p in paths] == [f"{n}.{fmt}" for n in ("records", "samples", "calls")]
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    data = frames(run_dir)
    for p, frame in zip(paths, (data.records, data.samples, data.calls), strict=True):
        back = read(p)
        assert back.shape == frame.shape and list(back.columns) == list(frame.columns)
    assert not list((tmp_path / fmt).glob(".*tmp"))


def test_mixed_kinds_become_one_text_column(run_dir, tmp_path):
    run = tmp_path / "mixed"
    run.mkdir()
    (run / "manifest.json").write_bytes((run_dir / "manifest.json").read_bytes())
    recs = _jsonl(run_dir / "records.jsonl")
    recs[0]["target"], recs[1]["target"] = 7, ["a", "b"]  # a number, a list, then text
    recs[0]["cluster"], recs[1]["cluster"] = 3, "c-1"
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    data = frames(run)
    assert list(data.records["target"][:2]) == ["7", '["a", "b"]']
    assert list(data.records["cluster"][:2]) == ["3", "c-1"]
    export_run(run, "parquet", tmp_path / "out")  # pyarrow accepts every column
    back = pd.read_parquet(tmp_path / "out" / "records.parquet")
    assert back["target"][2] == recs[2]["target"]


def test_export_bad_input_is_one_line(run_dir, tmp_path, capsys):
    with pytest.raises(UserError, match="expected csv or parquet"):
        export_run(run_dir, "xlsx")
    with pytest.raises(UserError, match="not a run directory"):
        frames(tmp_path)
    r = run_cli(capsys, "export", str(tmp_path), "--format", "csv")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr
    ok = run_cli(capsys, "export", str(run_dir), "-f", "csv", "-o", str(tmp_path / "cli"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "cli" / "samples.csv").is_file() and "wrote" in ok.stdout


def test_import_tts_bench_stays_light():
    code = "import sys, tts_bench; print('pandas' in sys.modules, callable(tts_bench.load))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
