"""Saturation point, adaptive replay (against a plain step-by-step replay), Pareto frontier
and per-stratum routing."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.special import betainc

from tests.analysis_fixtures import Cfg, edit_records, make_run
from tts_bench.analysis import summarize, write_summary
from tts_bench.analysis.adaptive import (
    ABSTAIN_WINDOW,
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
            # a window that all agrees, or all abstains, stops
            if t % w == 0 and len(set(answers[t - w : t])) == 1:
                return t
            continue
        if t >= ABSTAIN_WINDOW and all(a is None for a in answers[t - ABSTAIN_WINDOW : t]):
            return t
        votes = sorted(Counter(a for a in answers[:t] if a is not None).values())
        v1 = votes[-1] if votes else 0
        v2 = votes[-2] if len(votes) > 1 else 0
        answered = sum(a is not None for a in answers[:t])
        if rule == "beta" and v1 > 0 and 1 - betainc(v1 + 1, v2 + 1, 0.5) >= knob:
            return t
        if rule == "share" and t >= MIN_SHARE_SAMPLES and answered and v1 / answered >= knob:
            return t
    return k


def _knob_list(k: int) -> list[tuple[str, float]]:
    knobs = [("esc", w) for w in ESC_WINDOWS if w < k]
    return knobs + [("beta", t) for t in BETA_THRESHOLDS] + [("share", t) for t in SHARE_THRESHOLDS]


def _pools(answers: list[list], target: str = "0") -> Pools:
    n, k = len(answers), len(answers[0])
    values = np.array([[1.0 if a == target else 0.0 for a in row] for row in answers])
    nan = np.full((n, k), np.nan)
    return Pools(k, (k, k), np.ones(n, bool), nan, nan, None, None, nan, answers, values)


def _random_answers(rng: np.random.Generator, n: int, k: int, none: float) -> list[list]:
    return [
        [
            None if rng.random() < none else str(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))
            for _ in range(k)
        ]
        for _ in range(n)
    ]


def test_adaptive_replay_in_stored_order_matches_plain_replay() -> None:
    rng = np.random.default_rng(5)
    n, k = 60, 10
    answers = _random_answers(rng, n, k, 0.1)
    answers[0] = [None] * k  # an item the model cannot answer: every rule stops early
    values = [[1.0 if a == "0" else 0.0 for a in row] for row in answers]
    got = replay(_pools(answers), orders=0)
    knobs = _knob_list(k)
    assert len(got) == len(knobs)
    full = np.mean([_credit(a, v) for a, v in zip(answers, values, strict=True)])
    for row, (rule, knob) in zip(got, knobs, strict=True):
        assert row["rule"] == rule and row["orders"] == 0
        stops = [_stop_plain(rule, knob, a) for a in answers]
        assert stops[0] == (int(knob) if rule == "esc" else ABSTAIN_WINDOW)
        acc = np.mean(
            [_credit(a[:t], v[:t]) for a, v, t in zip(answers, values, stops, strict=True)]
        )
        for figs in (row, row["in_pool_order"]):
            assert figs["mean_samples"] == pytest.approx(np.mean(stops))
            assert figs["accuracy"] == pytest.approx(acc)
        assert row["accuracy_full"] == pytest.approx(full)


def test_adaptive_replay_averages_over_orders() -> None:
    # k = 4: the exact order average is the mean over all 24 orders of each pool
    rng = np.random.default_rng(11)
    n, k = 40, 4
    answers = _random_answers(rng, n, k, 0.3)
    values = [[1.0 if a == "0" else 0.0 for a in row] for row in answers]
    got = replay(_pools(answers), orders=400, seed=3)
    orders = list(itertools.permutations(range(k)))
    for row, (rule, knob) in zip(got, _knob_list(k), strict=True):
        used, acc = [], []
        for a, v in zip(answers, values, strict=True):
            stops = [_stop_plain(rule, knob, [a[j] for j in o]) for o in orders]
            used.append(np.mean(stops))
            acc.append(
                np.mean(
                    [
                        _credit([a[j] for j in o[:t]], [v[j] for j in o[:t]])
                        for o, t in zip(orders, stops, strict=True)
                    ]
                )
            )
        assert row["orders"] == 400
        # Monte Carlo error of 400 orders x 40 items is well under these tolerances
        assert row["mean_samples"] == pytest.approx(np.mean(used), abs=0.03)
        assert row["accuracy"] == pytest.approx(np.mean(acc), abs=0.01)
        lo, hi = row["accuracy_ci"]
        assert lo <= row["accuracy"] <= hi and hi - lo > 0.05  # resamples 40 items
        lo, hi = row["mean_samples_ci"]
        assert lo <= row["mean_samples"] <= hi
        d_lo, d_hi = row["delta_points_ci"]
        assert d_lo <= row["delta_points"] <= d_hi
    # the same seed gives the same figures
    assert replay(_pools(answers), orders=400, seed=3) == got


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


def test_routing_figures_are_cross_fitted_and_the_policy_carries_them(tmp_path: Path) -> None:
    s = _routing_run(tmp_path, {"epsilon": 2.0})
    r = s["routing"]
    assert r["cross_fit"]["folds"] == 5 and r["cross_fit"]["seed"] == 0
    for fig in (r["routed"], r["best_single"]):
        lo, hi = fig["accuracy_ci"]
        assert lo < fig["accuracy"] < hi and fig["accuracy_interval"] == "wilson"
    ins = r["in_sample"]
    assert {"routed", "best_single", "routed_vs_single"} <= set(ins)
    for v, e in r["routes"].items():  # per stratum: out of sample, in-sample beside it
        assert e["in_sample"]["accuracy"] is not None and e["accuracy"] is not None, v
    write_summary(r_dir := next(tmp_path.glob("run-*")), resamples=200)
    pol = yaml.safe_load((r_dir / "recommended-policy.yaml").read_text())
    again = summarize(r_dir, resamples=200)["routing"]
    assert pol["expected_blended"]["accuracy"] == again["routed"]["accuracy"]
    assert pol["default"]["expected"]["accuracy"] == again["best_single"]["accuracy"]
    assert "cross-fitted" in (r_dir / "recommended-policy.yaml").read_text()


def test_no_strata_means_no_routing_recommendation(tmp_path: Path) -> None:
    from tts_bench import store
    from tts_bench.report import render_markdown
    from tts_bench.report.html import render_html

    run = make_run(tmp_path, n_items=80, infra_rate=0.0)

    def drop(rec: dict) -> dict:
        rec.pop("strata", None)
        return rec

    edit_records(run, drop)
    s = summarize(run, resamples=200)
    r = s["routing"]
    assert r["by"] is None and r["routes"] == {} and r["routed"] is None
    assert r["routed_vs_single"] is None and "no strata" in r["note"]
    assert r["best_single"]["accuracy_ci"][0] is not None  # the best single is still scored
    man = store.read_manifest(run)
    md = render_markdown(s, man)
    assert "Routing" not in md and "None" not in md and "Route" not in md
    html = render_html(s, man, [], [])
    assert "No routing recommendation (the dataset has no strata column to route by)" in html
    assert "+0.0..+0.0" not in html and "Routing by" not in html
