"""Saturation point, adaptive replay (against a plain step-by-step replay), Pareto frontier
and per-stratum routing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betainc

from tests.analysis_fixtures import Cfg, make_run
from tts_bench.analysis import summarize
from tts_bench.analysis.adaptive import (
    BETA_THRESHOLDS,
    ESC_WINDOWS,
    MIN_SHARE_SAMPLES,
    SHARE_THRESHOLDS,
    replay,
)
from tts_bench.analysis.curves import Pools
from tts_bench.analysis.saturation import max_drop, saturation_point


def test_saturation_point_design_example() -> None:
    # exact maj@k 80.4% at N=1 -> 82.2% at N=4 -> 83.2% at N=40: saturated at N=4 for 1 pt
    k = np.arange(1, 41)
    y = np.interp(k, [1, 2, 3, 4, 10, 40], [0.804, 0.804, 0.815, 0.822, 0.829, 0.832])
    assert saturation_point(y, 0.01) == 4
    assert saturation_point(y, 0.0) == 40
    assert saturation_point(y, 0.05) == 1
    # a dip after N means the remaining gain is not yet below epsilon there
    dip = y.copy()
    dip[5] = 0.80
    assert saturation_point(dip, 0.01) == 7
    assert max_drop(np.array([0.5, 0.6, 0.55, 0.58])) == pytest.approx(0.05)


def _credit(answers: list, values: list[float]) -> float:
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return 0.0
    top = max(votes.values())
    tied = [a for a, n in votes.items() if n == top]
    return float(np.mean([values[answers.index(a)] for a in tied]))


def _stop_plain(rule: str, knob: float, answers: list) -> int:
    k = len(answers)
    for t in range(1, k + 1):
        if rule == "esc":
            w = int(knob)
            win = answers[t - w : t]
            if t % w == 0 and win[0] is not None and len(set(win)) == 1:
                return t
            continue
        votes = sorted(Counter(a for a in answers[:t] if a is not None).values())
        v1 = votes[-1] if votes else 0
        v2 = votes[-2] if len(votes) > 1 else 0
        answered = sum(a is not None for a in answers[:t])
        if rule == "beta" and v1 > 0 and 1 - betainc(v1 + 1, v2 + 1, 0.5) >= knob:
            return t
        if rule == "share" and t >= MIN_SHARE_SAMPLES and answered and v1 / answered >= knob:
            return t
    return k


def test_adaptive_replay_matches_plain_replay() -> None:
    rng = np.random.default_rng(5)
    n, k = 60, 10
    answers = [
        [
            None if rng.random() < 0.1 else str(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))
            for _ in range(k)
        ]
        for _ in range(n)
    ]
    values = np.array([[1.0 if a == "0" else 0.0 for a in row] for row in answers])
    nan = np.full((n, k), np.nan)
    pools = Pools(k, (k, k), np.ones(n, bool), nan, nan, None, None, nan, answers, values)
    got = replay(pools)
    knobs = [("esc", w) for w in ESC_WINDOWS if w < k]
    knobs += [("beta", t) for t in BETA_THRESHOLDS] + [("share", t) for t in SHARE_THRESHOLDS]
    assert len(got) == len(knobs)
    full = np.mean([_credit(a, list(v)) for a, v in zip(answers, values, strict=True)])
    for row, (rule, knob) in zip(got, knobs, strict=True):
        assert row["rule"] == rule
        stops = [_stop_plain(rule, knob, a) for a in answers]
        acc = np.mean(
            [_credit(a[:t], list(v[:t])) for a, v, t in zip(answers, values, stops, strict=True)]
        )
        assert row["mean_samples"] == pytest.approx(np.mean(stops))
        assert row["accuracy"] == pytest.approx(acc)
        assert row["accuracy_full"] == pytest.approx(full)


def test_frontier_is_non_dominated(tmp_path: Path) -> None:
    s = summarize(make_run(tmp_path, n_items=150), resamples=200)
    pts = [p for p in s["frontier"] if p["cost_usd"] is not None]
    assert {"sc@1", "sc@4", "single", "bon"} <= {p["label"] for p in pts}
    front = sorted((p for p in pts if p["on_frontier"]), key=lambda p: p["cost_usd"])
    assert front and all(
        a["accuracy"] < b["accuracy"] for a, b in zip(front, front[1:], strict=False)
    )
    for p in pts:
        dominated = any(
            q["cost_usd"] <= p["cost_usd"] and q["accuracy"] > p["accuracy"] for q in pts
        )
        assert p["on_frontier"] == (not dominated)


def _routing_run(tmp_path: Path, analysis: dict) -> dict:
    cfgs = [
        Cfg("small", {"easy": 0.999, "hard": 0.2}, cost=0.001),
        Cfg("large", {"easy": 0.999, "hard": 0.9}, cost=0.02, latency=3.0, model="sim/large"),
    ]
    run = make_run(tmp_path, n_items=300, configs=cfgs, infra_rate=0.0, analysis=analysis)
    return summarize(run, resamples=500)


def test_routing_sends_only_hard_items_to_the_large_model(tmp_path: Path) -> None:
    s = _routing_run(tmp_path, {"epsilon": 2.0})
    r = s["routing"]
    assert r["by"] == "difficulty"
    assert r["routes"]["easy"]["config"] == "small"
    assert r["routes"]["hard"]["config"] == "large"
    assert r["best_single"]["config"] == "large"
    assert r["routed"]["cost_usd"] < 0.7 * r["best_single"]["cost_usd"]
    assert r["routed"]["accuracy"] >= r["best_single"]["accuracy"] - 0.02
    lo, hi = r["routed_vs_single"]["accuracy_points"]["ci"]
    assert lo <= 0 <= hi + 1e-9


def test_routing_respects_a_cost_budget(tmp_path: Path) -> None:
    s = _routing_run(tmp_path, {"epsilon": 2.0, "max_cost_per_request": 0.005})
    r = s["routing"]
    assert {v["config"] for v in r["routes"].values()} == {"small"}
    assert r["best_single"]["config"] == "small"


def test_judge_cost_scales_with_k(tmp_path: Path) -> None:
    # best_of_n with a judge pays one judge call per sample: the whole record cost is per sample
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("bon", {"easy": 0.7, "hard": 0.4}, pool=4, scores=True, knobs={"n": [1, 2, 4]}),
    ]
    run = make_run(tmp_path, n_items=40, configs=cfgs, infra_rate=0.0)
    sat = {c["config"]: c for c in summarize(run, resamples=100)["configs"]}["bon"]["saturation"]
    cost = sat["curves"]["cost_usd"]
    assert sat["selector"] == "best_of_k"
    assert cost[0] == pytest.approx(cost[-1] / 4)
    assert cost[1] == pytest.approx(cost[-1] / 2)
