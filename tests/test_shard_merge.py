"""Shards and merge: n shards of a seeded simulator run, merged, are the unsplit run.

Compared field by field, with exactly these left out, because they measure this machine
or name this process and no two executions share them:

- records: `wall_s` (the pair's wall-clock seconds in this process);
- calls: `request_id` (a random id shared by the choices of one `n` request);
- summary.json: `meta.run_id` (each directory's own name), `meta.started_at` and
  `meta.finished_at` (timestamps; a merge keeps the earliest start and latest finish) and
  `meta.manifest_spent_usd` (the sessions' spend, summed in another order: compared to
  1e-9 instead).

Everything else — answers, outputs, correctness, scores, costs, tokens, latencies on the
virtual clock, samples, every figure of summary.json — must be equal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, cli, demo_suite, write_suite
from tts_bench import runner
from tts_bench.analysis import write_summary
from tts_bench.errors import UserError
from tts_bench.report import write_all
from tts_bench.run.merge import merge
from tts_bench.run.schedule import assignment, item_order, parse_shard, shard_items
from tts_bench.suite import parse

WALL_CLOCK_RECORD = {"wall_s"}
WALL_CLOCK_CALL = {"request_id"}
SUMMARY_META_SKIP = {"run_id", "started_at", "finished_at", "manifest_spent_usd"}


def suite_data(**over: Any) -> dict[str, Any]:
    data = demo_suite()
    data["dataset"]["sample"]["size"] = 30
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, 4], "temperature": 0.7},
        {"name": "large", "strategy": "single", "model": "sim/large"},
    ]
    data["analysis"] = {"resamples": 200}
    data.update(over)
    return data


def run(out: Path, run_id: str, data: dict[str, Any] | None = None, **kw: Any):
    suite = parse(data or suite_data(), "suite", ROOT / "suites")
    return runner.run(suite, out_dir=out, run_id=run_id, use_cache=False, preflight=False, **kw)


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").open()]


def calls(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "calls.jsonl").open()]


def keyed(rows: list[dict[str, Any]], skip: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["item_id"], r["config"]): {k: v for k, v in r.items() if k not in skip} for r in rows
    }


def call_bag(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        json.dumps({k: v for k, v in c.items() if k not in WALL_CLOCK_CALL}, sort_keys=True)
        for c in rows
    )


def summary(run_dir: Path) -> dict[str, Any]:
    s = json.loads((run_dir / "summary.json").read_text())
    s["meta"] = {k: v for k, v in s["meta"].items() if k not in SUMMARY_META_SKIP}
    return s


@pytest.fixture(scope="module")
def unsplit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unsplit")
    result = run(out, "whole")
    assert result.status == "complete" and len(result.records) == 90
    write_summary(result.run_dir)  # summary.json, as `report` computes it
    return result.run_dir


@pytest.fixture(scope="module")
def shards3(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("shards3")
    return [run(out, f"s{i}", shard=(i, 3)).run_dir for i in (1, 2, 3)]


@pytest.mark.parametrize("n", [1, 3, 7])
def test_merge_of_n_shards_is_the_unsplit_run(n, unsplit, tmp_path):
    parts = [run(tmp_path, f"s{i}", shard=(i, n)) for i in range(1, n + 1)]
    assert all(p.status == "complete" for p in parts)
    sizes = [json.loads((p.run_dir / "manifest.json").read_text())["shard"]["items"] for p in parts]
    assert sum(sizes) == 30 and max(sizes) - min(sizes) <= 1
    merged = merge([p.run_dir for p in parts], tmp_path / "merged")
    assert merged.status == "complete" and merged.n_records == 90
    write_summary(merged.run_dir)

    got, want = records(merged.run_dir), records(unsplit)
    assert keyed(got, WALL_CLOCK_RECORD) == keyed(want, WALL_CLOCK_RECORD)
    assert call_bag(calls(merged.run_dir)) == call_bag(calls(unsplit))
    # files in the unsplit schedule: the seeded item order, configs in suite order
    order = item_order({r["item_id"] for r in want}, 0)
    assert [(r["item_id"], r["config"]) for r in got] == [
        (i, c) for i in order for c in ("single", "sc", "large")
    ]
    first_call = [(c["item_id"], c["config"]) for c in calls(merged.run_dir)]
    assert first_call == sorted(first_call, key=[(r["item_id"], r["config"]) for r in got].index)
    assert summary(merged.run_dir) == summary(unsplit)

    m = json.loads((merged.run_dir / "manifest.json").read_text())
    w = json.loads((unsplit / "manifest.json").read_text())
    assert m["status"] == "complete" and "partial" not in m and "shard" not in m
    for key in ("item_count", "strata_counts", "dataset_fingerprint", "configs", "seed"):
        assert m[key] == w[key], key
    # the dataset's first-appearance order, which sets the analysis' stratum order
    assert list(m["strata_counts"]["difficulty"]) == list(w["strata_counts"]["difficulty"])
    assert m["spent_usd"] == pytest.approx(w["spent_usd"], abs=1e-9)
    assert [s["shard"] for s in m["sessions"]] == list(range(1, n + 1))
    assert m["merged"]["count"] == n


def test_shards_partition_the_items_by_stratum():
    from tts_bench.data import load_items

    suite = parse(suite_data(), "suite", ROOT / "suites")
    items, _ = load_items(suite.dataset)
    for n in (1, 2, 3, 7):
        split = [shard_items(items, i, n, 0) for i in range(1, n + 1)]
        ids = [it.id for part in split for it in part]
        assert sorted(ids) == sorted(it.id for it in items)  # every item once
        for value in {it.strata["difficulty"] for it in items}:
            per = [sum(it.strata["difficulty"] == value for it in part) for part in split]
            assert max(per) - min(per) <= 1, (n, value, per)
    # a function of the ids, strata, seed and n only: not of the dataset's row order
    assert assignment(items[::-1], 3, 0) == assignment(items, 3, 0)
    assert assignment(items, 3, 1) != assignment(items, 3, 0)


@pytest.mark.parametrize("bad", ["4/3", "0/3", "1/0", "x", "1/3/2", "-1/3", ""])
def test_bad_shard_forms_are_refused(bad):
    with pytest.raises(UserError, match="--shard"):
        parse_shard(bad)


def test_cli_shard_4_of_3_exits_2_with_one_line(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", suite_data())
    proc = cli("run", str(suite), "--shard", "4/3", "--out", str(tmp_path), "-q")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--shard 4/3" in proc.stderr
    assert not any(tmp_path.glob("demo-*"))  # nothing written


def test_cli_round_trip_in_fresh_processes(unsplit, tmp_path):
    """Each shard in its own process, with only its own items: the answers are those of the
    unsplit run made in another process with every item (the simulator does not depend on
    which other items a process runs, nor on their order)."""
    suite = write_suite(tmp_path / "s.yaml", suite_data())
    dirs = [str(tmp_path / f"o{i}" / "part") for i in (3, 1, 2)]
    jobs = [  # the three at once, as a CI matrix runs them
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tts_bench.cli",
                "run",
                str(suite),
                "--shard",
                f"{i}/3",
                "--out",
                str(tmp_path / f"o{i}"),
                "--run-id",
                "part",
                "-q",
                "--no-preflight",
                "--no-report",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in (3, 1, 2)
    ]
    for job in jobs:
        _, err = job.communicate(timeout=300)
        assert job.returncode == 0, err
    proc = cli("merge", *dirs, "-o", str(tmp_path / "merged"))
    assert proc.returncode == 0, proc.stderr
    assert "merged 3 shard(s), 90 records" in proc.stdout
    merged = tmp_path / "merged"
    assert (merged / "report.html").is_file() and (merged / "summary.md").is_file()
    assert keyed(records(merged), WALL_CLOCK_RECORD) == keyed(records(unsplit), WALL_CLOCK_RECORD)
    assert summary(merged) == summary(unsplit)
    # a refused merge: one line, exit 2 (here: a missing shard; an existing output is next)
    short = cli("merge", dirs[0], dirs[1], "-o", str(tmp_path / "other"))
    assert short.returncode == 2 and short.stderr.count("\n") == 1
    assert "shard 2/3 missing" in short.stderr
    with pytest.raises(UserError, match="not empty"):
        merge([Path(d) for d in dirs], merged)


def test_the_same_shard_twice_is_refused(shards3, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(shards3[0], copy)
    with pytest.raises(UserError, match="both shard 1/3"):
        merge([shards3[0], copy, shards3[1], shards3[2]], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_overlapping_items_are_refused(shards3, tmp_path):
    s1 = tmp_path / "s1"
    shutil.copytree(shards3[0], s1)
    stray = (shards3[1] / "records.jsonl").read_text().splitlines()[0]
    with (s1 / "records.jsonl").open("a") as fh:
        fh.write(stray + "\n")
    with pytest.raises(UserError, match="overlapping shards"):
        merge([s1, shards3[1], shards3[2]], tmp_path / "m")


def test_missing_shard_refused_then_merged_with_allow_partial(shards3, tmp_path):
    from tts_bench.gate import evaluate

    with pytest.raises(UserError, match=r"shard 2/3 missing .*--allow-partial"):
        merge([shards3[0], shards3[2]], tmp_path / "m")
    assert not (tmp_path / "m").exists()

    result = merge([shards3[0], shards3[2]], tmp_path / "m", allow_partial=True)
    assert result.status == "partial" and result.missing == [2]
    m = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert m["status"] == "partial" and m["partial"] == {"missing": [2], "incomplete": []}
    assert m["item_count"] == 20
    write_all(tmp_path / "m")
    page = (tmp_path / "m" / "report.html").read_text()
    assert 'id="partial"' in page and "shard 2/3 missing" in page
    assert "shard 2/3 missing" in (tmp_path / "m" / "summary.md").read_text()
    with pytest.raises(UserError, match="--allow-partial"):
        evaluate(tmp_path / "m", rules=[])
    with pytest.raises(UserError, match="partial merge of shards cannot be resumed"):
        run(tmp_path, "m")


def test_unfinished_shard_is_named(shards3, tmp_path):
    s2 = tmp_path / "s2"
    shutil.copytree(shards3[1], s2)
    man = json.loads((s2 / "manifest.json").read_text())
    man["status"] = "interrupted"
    (s2 / "manifest.json").write_text(json.dumps(man))
    lines = (s2 / "records.jsonl").read_text().splitlines(keepends=True)
    (s2 / "records.jsonl").write_text("".join(lines[:-5]))
    with pytest.raises(UserError, match=r"shard 2/3 incomplete \(.*status interrupted, 25 of 30"):
        merge([shards3[0], s2, shards3[2]], tmp_path / "m")
    result = merge([shards3[0], s2, shards3[2]], tmp_path / "m", allow_partial=True)
    assert result.status == "partial" and result.incomplete == [2] and result.n_records == 85
    # the calls of the pairs whose records were lost are not carried over
    kept = {(r["item_id"], r["config"]) for r in records(tmp_path / "m")}
    assert {(c["item_id"], c["config"]) for c in calls(tmp_path / "m")} == kept


def test_a_shard_of_another_suite_is_refused(shards3, tmp_path):
    other = run(tmp_path, "other", suite_data(seed=5), shard=(2, 3)).run_dir
    with pytest.raises(UserError, match="not a shard of the same split"):
        merge([shards3[0], other, shards3[2]], tmp_path / "m")
    data = suite_data()
    data["configs"] = data["configs"][:2]
    fewer = run(tmp_path, "fewer", data, shard=(2, 3)).run_dir
    with pytest.raises(UserError, match="differ in `configs`"):
        merge([shards3[0], fewer, shards3[2]], tmp_path / "m2")
    with pytest.raises(UserError, match="not a shard"):
        merge([shards3[0], run(tmp_path, "plain").run_dir], tmp_path / "m3")


def test_resume_keeps_the_shard_and_refuses_another(shards3, tmp_path):
    again = run(shards3[0].parent, "s1")  # a resume without --shard: still shard 1/3
    assert again.already_complete and len(again.records) == 30
    with pytest.raises(UserError, match="this run is shard 1/3, not 2/3"):
        run(shards3[0].parent, "s1", shard=(2, 3))
    plain = run(tmp_path, "plain", limit=6)
    with pytest.raises(UserError, match="not a shard"):
        run(tmp_path, "plain", limit=6, shard=(1, 2))
    assert plain.status == "complete"


def test_limit_then_shard_merges_to_the_limited_run(tmp_path):
    whole = run(tmp_path, "whole", limit=12)
    parts = [run(tmp_path, f"p{i}", limit=12, shard=(i, 2)).run_dir for i in (1, 2)]
    merged = merge(parts, tmp_path / "merged")
    assert merged.n_records == 36
    assert keyed(records(merged.run_dir), WALL_CLOCK_RECORD) == keyed(
        whole.records, WALL_CLOCK_RECORD
    )


def test_shards_of_different_versions_merge_with_a_warning(shards3, tmp_path):
    s3 = tmp_path / "s3"
    shutil.copytree(shards3[2], s3)
    man = json.loads((s3 / "manifest.json").read_text())
    man["tool_version"] = "0.0.1"
    (s3 / "manifest.json").write_text(json.dumps(man))
    result = merge([shards3[0], shards3[1], s3], tmp_path / "m")
    assert result.status == "complete"
    assert result.warnings and "different tts-bench versions" in result.warnings[0]
    merged = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert result.warnings[0] in merged["warnings"]
