"""Kill a real run with SIGKILL part-way, resume it, and get exactly an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, cli, demo_suite, write_suite
from tts_bench import runner
from tts_bench.suite import parse

# Deterministic fields: everything but the harness's own wall clock and cache bookkeeping.
VOLATILE = {"wall_s", "cache_hits"}


def _suite() -> dict:
    data = demo_suite()
    data["dataset"]["params"] = {"size": 120, "seed": 5}
    data["dataset"]["sample"] = {"size": 36, "by": ["difficulty"], "seed": 1}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, 3], "temperature": 0.7},
    ]
    # the in-process simulator really waits 10% of its simulated latency, so a kill lands mid-run
    # one request per sample, so a kill can leave a pool half drawn (and half cached)
    data["defaults"] = {**data["defaults"], "sim_time_scale": 0.1, "pool_request": "separate"}
    data["limits"] = {"concurrency": 4}
    data["gates"] = []
    return data


def _records(run_dir: Path) -> dict[tuple[str, str], dict]:
    lines = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines() if x]
    keys = [(r["item_id"], r["config"]) for r in lines]
    assert len(keys) == len(set(keys)), "duplicated records"
    return {
        k: {f: v for f, v in r.items() if f not in VOLATILE}
        for k, r in zip(keys, lines, strict=True)
    }


def _calls(run_dir: Path) -> list[tuple]:
    out = []
    for line in (run_dir / "calls.jsonl").read_text().splitlines():
        c = json.loads(line)
        out.append(
            (
                c["item_id"],
                c["config"],
                c["role"],
                c["sample_index"],
                c["cost_usd"],
                c["latency_s"],
                c["output_tokens"],
                c["text"],
            )
        )
    return sorted(out)


def _start_run(suite_path: Path, out: Path, wait_for: int) -> tuple[subprocess.Popen, Path]:
    """Start `tts-bench run` in a real subprocess and return once `wait_for` records exist."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tts_bench.cli",
            "run",
            str(suite_path),
            "--out",
            str(out),
            "--run-id",
            "r",
            "--quiet",
            "--no-report",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    records_file = out / "r" / "records.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records_file.exists() and len(records_file.read_text().splitlines()) >= wait_for:
            break
        assert proc.poll() is None, f"run ended before it could be stopped: {proc.stderr.read()}"
        time.sleep(0.02)
    return proc, records_file


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    suite_path = write_suite(tmp_path / "suite.yaml", _suite())
    out = tmp_path / "killed"
    proc, records_file = _start_run(suite_path, out, wait_for=12)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(records_file.read_text().splitlines())
    assert 12 <= done_before < 72, "the kill must land part-way"
    # the killed writer's lock file stays, its lock does not (the kernel dropped it)
    assert (out / "r" / ".lock").read_text().strip() == str(proc.pid)
    assert json.loads((out / "r" / "manifest.json").read_text())["status"] == "running"
    # a torn last line, as after a power loss, must not be fatal
    with records_file.open("a") as fh:
        fh.write('{"item_id": "torn", "con')
    cache = out / ".cache" / "llm-cache.sqlite"
    with sqlite3.connect(cache) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        cached_before = sum(db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)
    assert cached_before > 0

    resumed = cli(
        "run",
        str(suite_path),
        "--out",
        str(out),
        "--resume",
        str(out / "r"),
        "--quiet",
        "--no-report",
    )
    assert resumed.returncode == 0, resumed.stderr

    ref = runner.run(parse(_suite()), out_dir=tmp_path / "ref", run_id="r")
    assert ref.status == "complete"
    got, want = _records(out / "r"), _records(tmp_path / "ref" / "r")
    assert got.keys() == want.keys()
    assert got == want
    assert _calls(out / "r") == _calls(tmp_path / "ref" / "r")

    manifest = json.loads((out / "r" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    total_calls = len(_calls(tmp_path / "ref" / "r"))
    last = manifest["sessions"][-1]
    # cached calls were replayed, not paid again: only the calls never made before are live
    assert last["live_calls"] == total_calls - cached_before
    assert last["cache_hits"] >= 1


def test_ctrl_c_marks_the_run_interrupted_and_exits_130(tmp_path):
    suite_path = write_suite(tmp_path / "suite.yaml", _suite())
    out = tmp_path / "out"
    proc, records_file = _start_run(suite_path, out, wait_for=6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    manifest = json.loads((out / "r" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    n = len(records_file.read_text().splitlines())
    assert 6 <= n < 72


def test_budget_stop_then_resume_with_a_higher_budget(tmp_path):
    data = _suite()
    data["defaults"].pop("sim_time_scale")
    suite = parse(data)
    full = runner.run(suite, out_dir=tmp_path / "full", run_id="r", use_cache=False)
    total = sum(r["cost_usd"] for r in full.records)
    stopped = runner.run(suite, out_dir=tmp_path / "b", run_id="r", max_cost=total / 3)
    assert stopped.status == "budget_exceeded"
    assert 0 < len(stopped.records) < len(full.records)
    assert stopped.spent_usd <= total / 3 + 1e-12
    finished = runner.run(suite, out_dir=tmp_path / "b", run_id="r", max_cost=total * 2)
    assert finished.status == "complete"
    assert len(finished.records) == len(full.records)
