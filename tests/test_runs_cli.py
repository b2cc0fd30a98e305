"""`tts-bench runs` and `show`: listing a results directory (damaged and foreign directories
included, never a traceback), a run's table, and one item across configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, demo_suite
from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.runs import list_runs
from tts_bench.show import show_item
from tts_bench.suite import parse


class Done:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err


def run_cli(capsys, *args: str) -> Done:
    """`tts-bench ARGS` in this process (its `main`, error handling included): a subprocess
    per call would cost seconds of imports."""
    import sys

    from tts_bench import cli

    capsys.readouterr()
    old = sys.argv
    sys.argv = ["tts-bench", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return Done(code, out.out, out.err)


def _tiny(size: int = 6) -> dict:
    data = demo_suite()
    data["dataset"]["sample"].update(size=size)
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, 3], "temperature": 0.7},
    ]
    return data


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    suite = parse(_tiny(), "suite", ROOT / "suites")
    runner.run(suite, out_dir=out, run_id="good", use_cache=False)
    (out / "broken").mkdir()
    (out / "broken" / "manifest.json").write_text("{not json")
    (out / "foreign").mkdir()
    (out / "foreign" / "notes.txt").write_text("not a run")
    (out / "bad-records").mkdir()
    (out / "bad-records" / "manifest.json").write_text((out / "good" / "manifest.json").read_text())
    (out / "bad-records" / "records.jsonl").write_text('{"item_id": "x", "config": "nope"}\n')
    (out / ".cache").mkdir()  # the response cache: not a run
    (out / "README.md").write_text("a file, not a run")
    return out


def test_list_runs_reads_good_runs_and_names_each_problem(results):
    rows = {r.id: r for r in list_runs(results)}
    assert set(rows) == {"good", "broken", "foreign", "bad-records"}
    good = rows["good"]
    assert (good.suite, good.status, good.items, good.configs) == (
        "demo",
        "complete",
        6,
        ["single", "sc"],
    )
    records = [json.loads(x) for x in (results / "good" / "records.jsonl").read_text().splitlines()]
    base = [r["score"] for r in records if r["config"] == "single"]
    assert good.baseline_accuracy == pytest.approx(sum(base) / len(base))
    assert good.spent_usd > 0 and good.problem is None
    assert "invalid JSON" in rows["broken"].problem
    assert rows["foreign"].problem == "not a run directory (no manifest.json)"
    assert "not in the manifest" in rows["bad-records"].problem
    # the good run (it has a start time) comes first
    assert list_runs(results)[0].id == "good"


def test_list_runs_of_a_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="results directory not found"):
        list_runs(tmp_path / "nope")


def test_runs_cli_table_and_json(results, capsys):
    r = run_cli(capsys, "runs", str(results))
    assert r.returncode == 0, r.stderr
    assert "good" in r.stdout and "unreadable" in r.stdout and "Traceback" not in r.stderr
    j = run_cli(capsys, "runs", str(results), "--json")
    assert j.returncode == 0, j.stderr
    rows = {x["id"]: x for x in json.loads(j.stdout)}
    assert rows["good"]["configs"] == ["single", "sc"] and rows["broken"]["problem"]


def test_show_item_across_configs_with_its_input(results):
    run = results / "good"
    records = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    item = records[0]["item_id"]
    view = show_item(run, item)
    assert view.input is not None and "Final answer" in view.input, view.input_note
    assert view.target == records[0]["target"]
    assert [c["config"] for c in view.cells] == ["single", "sc"]
    sc = view.cells[1]
    assert len(sc["samples"]) == 3 and sc["n_calls"] == 3
    with pytest.raises(UserError, match="did you mean"):
        show_item(run, item[:-1])


def test_show_item_without_its_dataset_says_why(results, tmp_path):
    run = tmp_path / "moved"
    run.mkdir()
    for name in ("manifest.json", "records.jsonl"):
        (run / name).write_bytes((results / "good" / name).read_bytes())
    m = json.loads((run / "manifest.json").read_text())
    m["dataset_fingerprint"] = "0" * 64  # the dataset changed since
    (run / "manifest.json").write_text(json.dumps(m))
    item = json.loads((run / "records.jsonl").read_text().splitlines()[0])["item_id"]
    view = show_item(run, item)
    assert view.input is None and "changed since the run" in view.input_note


def test_show_cli_run_and_item_and_unknown_item(results, capsys):
    run = results / "good"
    r = run_cli(capsys, "show", str(run))
    assert r.returncode == 0, r.stderr
    assert "single" in r.stdout and "complete" in r.stdout
    item = json.loads((run / "records.jsonl").read_text().splitlines()[0])["item_id"]
    r = run_cli(capsys, "show", str(run), item)
    assert r.returncode == 0, r.stderr
    assert "input" in r.stdout and "target" in r.stdout and "sc" in r.stdout
    bad = run_cli(capsys, "show", str(run), "no-such-item")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    broken = run_cli(capsys, "show", str(results / "broken"))
    assert broken.returncode == 2 and "invalid JSON" in broken.stderr


def test_an_imported_run_is_listed_shown_and_exported(tmp_path):
    from tests.test_import_pool import make_pool
    from tts_bench.export import frames
    from tts_bench.importers import import_pools

    make_pool(tmp_path / "pool.jsonl", n_items=6, k=4)
    out = tmp_path / "results" / "imported"
    import_pools(tmp_path / "pool.jsonl", fmt="pool-jsonl", out=out, scorer="numeric", config="sc")
    (row,) = list_runs(tmp_path / "results")
    assert (row.status, row.items, row.configs, row.problem) == ("imported", 6, ["sc"], None)
    assert row.baseline_accuracy is not None
    view = show_item(out, "q0")
    assert view.input is None and view.input_note == "imported pools keep no inputs"
    assert len(view.cells[0]["samples"]) == 4
    data = frames(out)
    assert len(data.records) == 6 and len(data.samples) == 24
    assert "stratum.level" in data.samples
