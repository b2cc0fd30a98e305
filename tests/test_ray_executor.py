"""`run --executor ray`: one local Ray instance for the module (num_cpus=2), two workers.

The Ray run's records equal the local executor's (every field but `wall_s`, this process's
wall clock) and so do its calls (but `request_id`, a random id); a worker killed mid-shard
(`die_once`: the worker holding one chosen item exits while running it, after paying that
pair's first call) leaves a `failed` run whose finished pairs stand, and `--resume`
finishes it with no pair written twice, the dead pair's call replayed from the cache, and
no call paid twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WALL_CLOCK_RECORD = {"wall_s"}
WALL_CLOCK_CALL = {"request_id"}


def die_once(marker: str, item: str):
    """Like `single` at its config's temperature, except that the worker running `item`
    exits (as a lost node would) just after its call, unless `marker` exists; it creates
    `marker` first, so a resume runs the item normally."""

    async def solve(ctx: Any) -> Any:
        from tts_bench.strategies.base import StrategyResult

        c = await ctx.generate(ctx.messages())
        if ctx.item.id == item and not Path(marker).exists():
            Path(marker).write_text("died")
            os._exit(1)
        return StrategyResult(answer=ctx.extract(c.text) if c.ok else None, text=c.text)

    return solve


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason="the Ray extra is not installed (tts-bench[ray])")
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])  # workers import die_once
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
        logging_level="WARNING",
    )
    yield ray
    ray.shutdown()


def _suite(tmp: Path, **extra_configs: dict[str, Any]):
    from tests.conftest import demo_suite
    from tts_bench.suite import Suite

    data = demo_suite()
    data["dataset"]["params"] = {"size": 16, "seed": 3}
    data["dataset"].pop("sample", None)
    data["limits"] = {"concurrency": 2, "max_cost_usd": 5.0}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, 3], "temperature": 0.7},
        *({"name": k, **v} for k, v in extra_configs.items()),
    ]
    data.pop("gates", None)
    return Suite.model_validate(data)


def _run(suite: Any, out: Path, executor: str = "local", **kw: Any) -> Any:
    from tts_bench.run.executors import make_executor
    from tts_bench.runner import Runner

    ex = make_executor(executor, workers=2 if executor == "ray" else None)
    return Runner(suite, out_dir=out, preflight=False, executor=ex, **kw).run()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _keyed(rows: list[dict[str, Any]], key: tuple[str, ...], skip: set[str]) -> dict:
    out = {}
    for r in rows:
        k = tuple(r[f] for f in key)
        assert k not in out, f"written twice: {k}"
        out[k] = {f: v for f, v in r.items() if f not in skip}
    return out


def test_ray_records_equal_the_local_executors(ray_session, tmp_path):
    suite = _suite(tmp_path)
    local = _run(suite, tmp_path / "local", run_id="r")
    remote = _run(suite, tmp_path / "ray", "ray", run_id="r")
    assert local.status == remote.status == "complete", remote.error
    assert len(local.records) == 16 * 2
    rkey = ("item_id", "config")
    a = _keyed(_lines(local.run_dir / "records.jsonl"), rkey, WALL_CLOCK_RECORD)
    b = _keyed(_lines(remote.run_dir / "records.jsonl"), rkey, WALL_CLOCK_RECORD)
    assert a == b
    ckey = ("item_id", "config", "role", "sample_index")
    ca = _keyed(_lines(local.run_dir / "calls.jsonl"), ckey, WALL_CLOCK_CALL)
    cb = _keyed(_lines(remote.run_dir / "calls.jsonl"), ckey, WALL_CLOCK_CALL)
    assert ca == cb
    ma, mb = (json.loads((r.run_dir / "manifest.json").read_text()) for r in (local, remote))
    assert mb["spent_usd"] == pytest.approx(ma["spent_usd"], abs=1e-12) and ma["spent_usd"] > 0
    assert mb["sessions"][0]["live_calls"] == ma["sessions"][0]["live_calls"] == len(ca)
    assert mb["sim_recognised"] == ma["sim_recognised"]
    assert ma["sessions"][0]["executor"] == {"name": "local"}
    assert mb["sessions"][0]["executor"] == {"name": "ray", "address": "local", "workers": 2}


def _cache_keys(out: Path) -> set[str]:
    with sqlite3.connect(out / ".cache" / "llm-cache.sqlite") as db:
        return {k for (k,) in db.execute("SELECT key FROM responses")}


def test_a_worker_lost_mid_shard_costs_only_its_unfinished_pairs(ray_session, tmp_path):
    marker = tmp_path / "died"
    from tts_bench.run.schedule import item_order

    order = item_order([it.id for it in _items(_suite(tmp_path))], 0)
    victim = order[len(order) // 2]  # its worker has finished pairs before it dies
    boom = {"strategy": "test_ray_executor:die_once", "temperature": 0.3}
    suite = _suite(tmp_path, boom={**boom, "marker": str(marker), "item": victim})
    assert suite.seed == 0
    out = tmp_path / "out"
    first = _run(suite, out, "ray", run_id="r")
    assert marker.exists()
    assert first.status == "failed" and "worker" in first.error and "lost" in first.error
    assert "--resume" in first.error
    total = 16 * 3
    written = _keyed(_lines(out / "r" / "records.jsonl"), ("item_id", "config"), set())
    assert 0 < len(written) < total and (victim, "boom") not in written
    cached = _cache_keys(out)

    again = _run(suite, out, "ray", resume_dir=out / "r")
    assert again.status == "complete", again.error
    records = _lines(out / "r" / "records.jsonl")
    final = _keyed(records, ("item_id", "config"), set())  # no pair written twice
    assert len(final) == total
    for k, r in written.items():  # what the lost session finished stands as it was
        assert final[k] == r
    calls = _lines(out / "r" / "calls.jsonl")
    assert not [
        k
        for k, n in Counter(
            (c["item_id"], c["config"], c["role"], c["sample_index"]) for c in calls
        ).items()
        if n > 1
    ]
    died = [c for c in calls if c["item_id"] == victim and c["config"] == "boom"]
    assert len(died) == 1 and died[0]["cache_hit"]  # paid before the worker died: free now
    sessions = json.loads((out / "r" / "manifest.json").read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["failed", "complete"]
    # every live call of the resume added a new cache row: none was paid a second time
    assert len(_cache_keys(out) - cached) == sessions[1]["live_calls"] > 0
    assert sessions[1]["cache_hits"] >= 1


def _items(suite: Any) -> list[Any]:
    from tts_bench.data import load_items

    return load_items(suite.dataset, where="t")[0]


def test_ray_executor_options_fail_in_one_line(monkeypatch):
    import sys

    from tts_bench.errors import UserError
    from tts_bench.run.executors import make_executor

    with monkeypatch.context() as m:
        m.setitem(sys.modules, "ray", None)  # as if the extra were not installed
        with pytest.raises(UserError) as err:
            make_executor("ray")
        assert str(err.value) == "--executor ray needs Ray: pip install 'tts-bench[ray]'"

    with pytest.raises(UserError, match="--executor must be one of local, ray"):
        make_executor("dask")
    with pytest.raises(UserError, match="need --executor ray"):
        make_executor("local", workers=2)
    pytest.importorskip("ray", reason="the Ray extra is not installed (tts-bench[ray])")
    with pytest.raises(UserError, match="--workers must be at least 1"):
        make_executor("ray", workers=0)


def test_cli_ray_options_without_ray_executor_exit_2(tmp_path):
    from tests.conftest import cli, demo_suite, write_suite

    suite = write_suite(tmp_path / "s.yaml", demo_suite())
    res = cli("run", str(suite), "--out", str(tmp_path / "out"), "--workers", "2", "--quiet")
    assert res.returncode == 2
    assert res.stderr.strip() == "error: --ray-address and --workers need --executor ray"
    assert not (tmp_path / "out").exists()


def test_shards_are_stratified_and_keep_an_items_configs_together(tmp_path):
    from tts_bench.run.ray_worker import split

    suite = _suite(tmp_path)
    items = _items(suite)
    pairs = [(it.id, c) for it in items for c in ("single", "sc")]
    shards = split(pairs, items, 2, suite.seed)
    assert sorted(p for s in shards for p in s) == sorted(pairs)
    strata = {it.id: it.strata["difficulty"] for it in items}
    per = [Counter(strata[i] for i, c in s if c == "single") for s in shards]
    for level, n in Counter(strata.values()).items():  # each stratum split as evenly as can be
        assert abs(per[0][level] - per[1][level]) <= 1 and per[0][level] + per[1][level] == n
    for s in shards:  # the run's order within a shard
        assert s == [p for p in pairs if p in set(s)]


def test_a_worker_that_cannot_see_the_cache_refuses_to_start(tmp_path):
    from tts_bench.errors import UserError
    from tts_bench.run.ray_worker import PairWorker

    suite = _suite(tmp_path)
    with pytest.raises(UserError, match="cannot see the response cache"):
        PairWorker(suite.model_dump(mode="json"), [], "t", str(tmp_path / "no" / "c.sqlite"))
