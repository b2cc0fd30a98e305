"""Acceptance of the strategies on the simulator's arithmetic suite, through the real runner.

Hard stratum (7-10 steps), fixed seeds: search strategies and reflection beat `single` at
greater cost; best-of-n with the (noisy) simulated judge beats single but stays below pass@n;
every record's cost and call count equal its lines in calls.jsonl, and its latency is the
critical path of those calls. Adaptive consistency is checked against fixed n=16.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from tts_bench import runner
from tts_bench.suite import parse

T = 0.7


def suite(configs: list[dict], size: int, min_steps: int) -> dict:
    return {
        "name": "strategies-acceptance",
        "seed": 0,
        "dataset": {
            "source": "builtin:arithmetic",
            "params": {"size": size, "seed": 11, "min_steps": min_steps, "max_steps": 10},
            "fields": {
                "id": "id",
                "input": "question",
                "target": "answer",
                "strata": ["difficulty"],
            },
        },
        "prompt": {
            "system": "You are a careful assistant.",
            "template": "{question}\nEnd with 'Final answer: <number>'.",
        },
        "scorer": {"type": "numeric"},
        "defaults": {"model": "sim/small", "temperature": 0.0, "max_tokens": 1024},
        "limits": {"concurrency": 64},
        "baseline": "single",
        "configs": [{"name": "single", "strategy": "single"}, *configs],
    }


def run(data: dict, out) -> tuple[pd.DataFrame, pd.DataFrame]:
    res = runner.run(parse(data), out_dir=out, use_cache=False)
    records = pd.read_json(res.run_dir / "records.jsonl", lines=True)
    calls = pd.read_json(res.run_dir / "calls.jsonl", lines=True)
    return records, calls


SEARCH = [
    {"name": "reflection", "strategy": "reflection", "rounds": 2},
    {"name": "beam", "strategy": "beam_search", "beam_width": 3, "expand": 3, "temperature": T},
    {
        "name": "tot_bfs",
        "strategy": "tree_of_thoughts",
        "breadth": 2,
        "propose": 3,
        "temperature": T,
    },
    {
        "name": "tot_dfs",
        "strategy": "tree_of_thoughts",
        "method": "dfs",
        "breadth": 3,
        "temperature": T,
    },
    {"name": "mcts", "strategy": "mcts", "iterations": 8, "temperature": T},
    {"name": "bon", "strategy": "best_of_n", "n": 8, "temperature": T},
]


@pytest.fixture(scope="module")
def hard_run(tmp_path_factory):
    return run(suite(SEARCH, 40, 7), tmp_path_factory.mktemp("runs"))


def test_search_and_reflection_beat_single_at_greater_cost(hard_run):
    records, _ = hard_run
    by = records.groupby("config").agg(acc=("correct", "mean"), cost=("cost_usd", "mean"))
    assert set(records["strata"].map(lambda s: s["difficulty"])) == {"hard"}
    for name in ("reflection", "beam", "tot_bfs", "tot_dfs", "mcts"):
        assert by.loc[name, "acc"] >= by.loc["single", "acc"] + 0.15, name
        assert by.loc[name, "cost"] > 2 * by.loc["single", "cost"], name
    search = records[records["config"].isin(["beam", "tot_bfs", "tot_dfs", "mcts"])]
    assert (search["info"].map(lambda i: i["nodes"]) > 0).all()


def test_best_of_n_with_noisy_judge_beats_single_but_stays_below_pass_at_n(hard_run):
    records, calls = hard_run
    bon = records[records["config"] == "bon"]
    acc_single = records[records["config"] == "single"]["correct"].mean()
    pass_n = bon["samples"].map(lambda s: any(x["correct"] for x in s)).mean()
    assert acc_single + 0.2 < bon["correct"].mean() < pass_n
    judged = calls[(calls["config"] == "bon") & (calls["role"] == "judge")]
    scored = bon["samples"].map(lambda s: sum(x["score"] is not None for x in s)).sum()
    assert len(judged) == scored > 0  # every judge verdict is a counted, priced call


def critical_path(config: str, group: pd.DataFrame) -> float | None:
    """The latency a record must report, recomputed from its calls.jsonl lines."""
    if config in ("single", "reflection"):
        return float(group["latency_s"].sum())
    if config in ("bon", "sc16"):  # parallel branches, each sample (+ its judge) in sequence
        return float(group.groupby("sample_index")["latency_s"].sum().max())
    if config.startswith("ada"):  # batches in sequence, each as slow as its slowest sample
        batch = 4
        return float(group.groupby(group["sample_index"] // batch)["latency_s"].max().sum())
    return None


def check_against_calls(records: pd.DataFrame, calls: pd.DataFrame) -> int:
    checked = 0
    groups = {k: g for k, g in calls.groupby(["item_id", "config"])}
    for rec in records.itertuples():
        g = groups[(rec.item_id, rec.config)]
        assert rec.n_calls == len(g)
        assert rec.cost_usd == pytest.approx(g["cost_usd"].sum(), rel=1e-9, abs=1e-12)
        expect = critical_path(rec.config, g)
        if expect is not None:
            assert rec.latency_s == pytest.approx(expect, abs=1e-5), rec.config
            checked += 1
    return checked


def test_records_match_calls_jsonl(hard_run):
    records, calls = hard_run
    assert check_against_calls(records, calls) == 3 * 40
    roles = defaultdict(set)
    for c in calls.itertuples():
        roles[c.config].add(c.role)
    assert (
        roles["reflection"] <= {"sample", "critique", "refine"}
        and "critique" in roles["reflection"]
    )
    assert roles["beam"] == {"expand", "value"}
    assert roles["mcts"] >= {"expand", "value", "rollout"}
