"""The demo suite end to end on the simulator: files, fields, and the facts it must show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, demo_suite, write_suite
from tts_bench import runner
from tts_bench.suite import parse

RECORD_FIELDS = {
    "item_id",
    "config",
    "strata",
    "target",
    "answer",
    "correct",
    "score",
    "failure",
    "cost_usd",
    "latency_s",
    "wall_s",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "n_calls",
    "confidence",
    "samples",
}
CALL_FIELDS = {
    "item_id",
    "config",
    "role",
    "sample_index",
    "model",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_s",
    "status",
    "retries",
    "cache_hit",
}
MANIFEST_FIELDS = {
    "run_id",
    "suite",
    "status",
    "started_at",
    "finished_at",
    "tool_version",
    "litellm_version",
    "seed",
    "dataset_fingerprint",
    "item_count",
    "configs",
}


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    data = demo_suite()
    data["dataset"]["sample"]["size"] = 45
    suite_path = write_suite(out / "demo-small.yaml", data)
    proc = cli("run", str(suite_path), "--out", str(out), "--run-id", "small", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out / "small", proc


def test_run_writes_the_three_files_with_documented_fields(small_run):
    run_dir, proc = small_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert MANIFEST_FIELDS <= set(manifest)
    assert manifest["status"] == "complete"
    records = _lines(run_dir / "records.jsonl")
    calls = _lines(run_dir / "calls.jsonl")
    assert len(records) == 45 * 4
    assert all(RECORD_FIELDS <= set(r) for r in records)
    assert all(CALL_FIELDS <= set(c) for c in calls)
    # every record's cost and call count are the sum over its own calls
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for c in calls:
        by_pair.setdefault((c["item_id"], c["config"]), []).append(c)
    for r in records:
        mine = by_pair[(r["item_id"], r["config"])]
        assert r["n_calls"] == len(mine)
        assert r["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in mine))
    sc = [r for r in records if r["config"] == "sc"]
    assert all(len(r["samples"]) == 9 for r in sc)
    # self-consistency samples run in parallel: critical path is the slowest sample
    for r in sc:
        assert r["latency_s"] == pytest.approx(max(s["latency_s"] for s in r["samples"]))
    assert "run directory:" in proc.stdout and "accuracy" in proc.stdout


def test_records_load_with_pandas(small_run):
    import pandas as pd

    df = pd.read_json(small_run[0] / "records.jsonl", lines=True)
    assert set(df["config"]) == {"single", "cot", "sc", "large"}


@pytest.fixture(scope="module")
def hard_records(tmp_path_factory):
    """Hard items only, enough of them for the facts to be stable under fixed seeds."""
    data = demo_suite()
    data["dataset"]["params"] = {"size": 900, "seed": 11}
    data["dataset"]["sample"] = {"size": 150, "by": ["difficulty"], "seed": 3}
    suite = parse(data)
    out = tmp_path_factory.mktemp("hard")
    result = runner.run(suite, out_dir=out, run_id="hard", use_cache=False)
    assert result.status == "complete"
    return [r for r in result.records if r["strata"]["difficulty"] == "hard"]


def _acc(records, config):
    vals = [r["correct"] for r in records if r["config"] == config and r["correct"] is not None]
    assert len(vals) >= 30
    return float(np.mean(vals))


def test_cot_beats_single_on_hard_items(hard_records):
    assert _acc(hard_records, "cot") > _acc(hard_records, "single") + 0.05


def test_self_consistency_n9_beats_n1_and_costs_more(hard_records):
    sc = [r for r in hard_records if r["config"] == "sc"]
    n1 = np.mean([bool(r["samples"][0]["correct"]) for r in sc])
    n9 = np.mean([bool(r["correct"]) for r in sc])
    assert n9 > n1 + 0.05
    single_cost = np.mean([r["cost_usd"] for r in hard_records if r["config"] == "single"])
    sc_cost = np.mean([r["cost_usd"] for r in sc])
    one_sample = np.mean([r["samples"][0]["cost_usd"] for r in sc])
    assert sc_cost > 5 * one_sample and sc_cost > single_cost


def test_larger_model_beats_small_on_hard_items(hard_records):
    assert _acc(hard_records, "large") > _acc(hard_records, "single")
