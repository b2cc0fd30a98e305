"""Adaptive consistency against fixed n=16 self-consistency on the simulator's arithmetic
suite (all strata, 300 items, fixed seeds), through the real runner."""

from __future__ import annotations

import pytest
from test_strategies_acceptance import T, check_against_calls, run, suite

ADAPTIVE = [
    {"name": "sc16", "strategy": "self_consistency", "n": 16, "temperature": T},
    {"name": "ada", "strategy": "adaptive_consistency", "n_max": 16, "temperature": T},
]


@pytest.fixture(scope="module")
def adaptive_run(tmp_path_factory):
    return run(suite(ADAPTIVE, 300, 2), tmp_path_factory.mktemp("runs"))


def test_adaptive_consistency_saves_samples_at_equal_accuracy(adaptive_run):
    records, calls = adaptive_run
    by = records.groupby("config")
    acc = by["correct"].mean()
    drawn = by["n_calls"].mean()
    ada = records[records["config"] == "ada"]
    assert (ada["info"].map(lambda i: i["stopped_at"]) == ada["n_calls"]).all()
    assert (ada["samples"].map(len) == ada["n_calls"]).all()  # the pool actually drawn is kept
    assert abs(acc["ada"] - acc["sc16"]) <= 0.01 + 1e-9  # within one point
    assert drawn["ada"] <= 0.8 * drawn["sc16"]
    assert check_against_calls(records, calls) == 3 * 300


def test_adaptive_consistency_uses_at_most_half_the_samples(adaptive_run):
    records, _ = adaptive_run
    drawn = records.groupby("config")["n_calls"].mean()
    assert drawn["ada"] <= 0.5 * drawn["sc16"]
