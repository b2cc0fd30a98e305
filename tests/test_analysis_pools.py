"""Which configs get pool curves and pool points, the `saturated` flag, and unknown costs and
latencies staying unknown (never $0 or dropped from a P95)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.analysis_fixtures import Cfg, edit_records, make_run
from tts_bench.analysis import summarize, write_summary


def by_config(summary: dict) -> dict[str, dict]:
    return {c["config"]: c for c in summary["configs"]}


def labels(summary: dict) -> set[str]:
    return {p["label"] for p in summary["frontier"]}


def test_router_records_get_no_pool_curve(tmp_path: Path) -> None:
    # a router's records carry the pool of the config they were routed to, on some items only
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=4, knobs={"n": [1, 2, 4]}),
        Cfg("route", {"easy": 0.75, "hard": 0.45}, pool=4, strategy="router"),
    ]
    run = make_run(tmp_path, n_items=60, configs=cfgs, infra_rate=0.0)

    def route_easy_to_single(rec: dict[str, Any]) -> dict[str, Any]:
        if rec["config"] == "route" and rec["strata"]["difficulty"] == "easy":
            rec["samples"] = None
        return rec

    edit_records(run, route_easy_to_single)
    s = summarize(run, resamples=100)
    c = by_config(s)
    assert c["route"]["saturation"] is None and c["route"]["adaptive"] is None
    assert not any(x.startswith("route@") for x in labels(s))
    assert c["sc"]["saturation"] is not None and "sc@2" in labels(s)


def test_pools_over_a_subset_of_scored_items_get_no_curve(tmp_path: Path) -> None:
    # the same subset rule for any strategy: a curve over some items is not the config's
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=4, knobs={"n": [1, 2, 4]}),
    ]
    run = make_run(tmp_path, n_items=40, configs=cfgs, infra_rate=0.0)
    edit_records(
        run, lambda r: {**r, "samples": None} if r["item_id"] == "q00003" and r["samples"] else r
    )
    s = summarize(run, resamples=100)
    assert by_config(s)["sc"]["saturation"] is None
    assert not any(x.startswith("sc@") for x in labels(s))


def _shorten_pool(item: str, config: str, keep: int) -> Any:
    def edit(rec: dict[str, Any]) -> dict[str, Any]:
        if rec["item_id"] == item and rec["config"] == config:
            rec["samples"] = rec["samples"][:keep]
        return rec

    return edit


@pytest.mark.parametrize("strategy", ["self_consistency", "imported"])
def test_varying_pool_sizes_get_curves_only_when_imported(tmp_path: Path, strategy: str) -> None:
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=6, strategy=strategy),
    ]
    run = make_run(tmp_path, n_items=40, configs=cfgs, infra_rate=0.0)
    edit_records(run, _shorten_pool("q00003", "sc", 3))
    c = by_config(summarize(run, resamples=100))["sc"]
    if strategy == "imported":  # independent draws made elsewhere: the first 3 of each
        assert c["note"] is None and c["adaptive"] is not None
        assert c["saturation"]["pool_sizes"] == [3, 6] and c["saturation"]["pool_size"] == 3
        assert "pool sizes vary (3..6)" in c["saturation"]["note"]
    else:
        assert c["saturation"] is None and c["adaptive"] is None
        assert "pool sizes vary (3..6)" in c["note"]


def test_unscored_records_do_not_cut_the_pool(tmp_path: Path) -> None:
    # a short pool on an infrastructure-failed record is not part of any curve
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=6),
    ]
    run = make_run(tmp_path, n_items=40, configs=cfgs, infra_rate=0.0)

    def fail_one(rec: dict[str, Any]) -> dict[str, Any]:
        if rec["item_id"] == "q00003" and rec["config"] == "sc":
            rec.update(correct=None, score=None, failure="timeout", status="timeout")
            rec["samples"] = rec["samples"][:2]
        return rec

    edit_records(run, fail_one)
    c = by_config(summarize(run, resamples=100))["sc"]
    assert c["note"] is None and c["saturation"]["pool_sizes"] == [6, 6]


def test_pool_points_only_where_n_is_the_pool_size(tmp_path: Path) -> None:
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=4, knobs={"n": [1, 2, 4]}),
        Cfg(
            "adaptive",
            {"easy": 0.9, "hard": 0.6},
            pool=4,
            strategy="adaptive_consistency",
            knobs={"n_max": 4},
        ),
    ]
    run = make_run(tmp_path, n_items=60, configs=cfgs, infra_rate=0.0)
    s = summarize(run, resamples=100)
    ad = by_config(s)["adaptive"]
    # pools stopped early by its own rule: no curve describes it, even when sizes happen to match
    assert ad["saturation"] is None and ad["adaptive"] is None
    assert "adaptive_consistency" in ad["note"] and by_config(s)["sc"]["note"] is None
    assert {x for x in labels(s) if "@" in x} == {"sc@1", "sc@2"}
    write_summary(run, resamples=100)
    pol = yaml.safe_load((run / "recommended-policy.yaml").read_text())
    entries = [pol["default"], *pol["routes"].values()]
    assert any(e["config"] == "adaptive" for e in entries)  # the best, so it is chosen
    for e in entries:
        if e["strategy"] != "self_consistency":
            assert "n" not in e["knobs"], e  # no knob the strategy cannot load
        if e["config"] == "adaptive":
            assert e["knobs"] == {"n_max": 4}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("pools"), n_items=150, infra_rate=0.0)


@pytest.mark.parametrize("epsilon", [0.0, 1.0, 50.0])
def test_saturated_flag(run: Path, epsilon: float) -> None:
    sat = by_config(summarize(run, resamples=300, epsilon=epsilon))["sc"]["saturation"]
    k, point = sat["pool_size"], sat["saturation_point"]
    hi = sat["remaining_gain_points"]["ci"][1]
    assert sat["saturated"] == (point < k and hi is not None and hi <= epsilon)
    if epsilon == 0.0:
        assert sat["saturated"] is False
    if epsilon == 50.0:  # nothing left to gain within 50 points
        assert point == 1 and sat["saturated"] is True


def test_not_saturated_when_the_last_step_still_gains(tmp_path: Path) -> None:
    # an odd pool: maj@5 gains on maj@4, so with a tolerance of 0 the point is the pool size
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.6, "hard": 0.5}, pool=5),
    ]
    run = make_run(tmp_path, n_items=100, configs=cfgs, infra_rate=0.0)
    sat = by_config(summarize(run, resamples=200, epsilon=0.0))["sc"]["saturation"]
    assert sat["saturation_point"] == sat["pool_size"] == 5
    assert sat["saturated"] is False


def test_all_unknown_costs_total_is_null(tmp_path: Path) -> None:
    s = summarize(make_run(tmp_path, n_items=30, unknown_cost_rate=1.0), resamples=100)
    assert s["meta"]["total_spend_usd"] is None
    assert s["meta"]["records_unknown_cost"] == s["meta"]["n_records"]


def test_one_unknown_latency_makes_p95_unknown(tmp_path: Path) -> None:
    cfgs = [
        Cfg("small", {"easy": 0.999, "hard": 0.2}, cost=0.001),
        Cfg("large", {"easy": 0.999, "hard": 0.9}, cost=0.02, latency=3.0, model="sim/large"),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=4, knobs={"n": [1, 2, 4]}),
    ]
    run = make_run(tmp_path, n_items=120, configs=cfgs, infra_rate=0.0, analysis={"epsilon": 2.0})
    known = summarize(run, resamples=100)
    assert known["routing"]["routed"]["latency_p95_s"] is not None

    def forget(rec: dict[str, Any]) -> dict[str, Any]:
        if rec["item_id"] == "q00000":  # a hard item (the first 40% of items are hard)
            rec["latency_s"] = None
            for smp in rec["samples"] or []:
                smp["latency_s"] = None
        return rec

    edit_records(run, forget)
    s = summarize(run, resamples=100)
    front = {p["label"]: p for p in s["frontier"]}
    assert front["large"]["latency_p95_s"] is None and front["sc@2"]["latency_p95_s"] is None
    r = s["routing"]
    assert r["routed"]["latency_p95_s"] is None  # the hard item is routed somewhere
    assert r["routes"]["hard"]["latency_p95_s"] is None
    assert r["routes"]["easy"]["latency_p95_s"] is not None
    for name in ("small", "large", "sc"):  # one unknown latency: no quantile, not the rest's
        f = by_config(s)[name]
        lat = f["latency"]
        assert (lat["n"], lat["n_unknown"]) == (119, 1) and lat["mean"] is not None
        assert all(lat[q] == {"value": None, "ci": [None, None]} for q in ("p50", "p95", "p99"))
        assert "unknown for 1 of 120" in lat["note"]
        hard, easy = (f["strata"]["difficulty"][v]["latency"] for v in ("hard", "easy"))
        assert hard["p95"]["value"] is None and hard["n_unknown"] == 1
        assert easy["p95"]["value"] is not None and easy["n_unknown"] == 0
        if name != "small":  # the baseline has no delta
            for key in ("latency_p50_ratio", "latency_p95_ratio"):
                ratio = f["delta"][key]
                assert ratio["value"] is None and ratio["ci"] == [None, None]
                assert (ratio["n"], ratio["n_unknown"]) == (119, 1)
    before = by_config(known)["large"]
    assert before["latency"]["p95"]["value"] is not None
    assert before["delta"]["latency_p95_ratio"]["value"] is not None
    sat = by_config(s)["sc"]["saturation"]
    assert sat["curves"]["latency_unknown_items"] == 1
    assert all(v is None for v in sat["curves"]["latency_p95_s"])
    # the mean is over the items whose latency is known
    assert np.all(np.isfinite(sat["curves"]["latency_s"]))


def test_answer_identity_falls_back_only_for_an_unusable_scorer(monkeypatch) -> None:
    from types import SimpleNamespace

    from tts_bench.analysis import curves
    from tts_bench.suite import ScorerSpec

    numeric = curves._key_fn(SimpleNamespace(scorer=ScorerSpec(type="numeric")))
    assert numeric("42.0") == numeric("42")
    bad = SimpleNamespace(scorer=ScorerSpec(type="regex", pattern="(unclosed"))
    exact = curves._key_fn(bad)  # an invalid pattern: stored answers compared as they are
    assert exact("42.0") != exact("42") and exact(["a", "b"]) == ("a", "b")

    def broken(spec: Any) -> Any:
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr("tts_bench.scoring.make_scorer", broken)
    with pytest.raises(RuntimeError):
        curves._key_fn(SimpleNamespace(scorer=ScorerSpec(type="numeric")))


def test_a_lone_pooled_config_gets_its_curve_verdict(tmp_path: Path) -> None:
    from tts_bench.report.markdown import render_markdown

    cfgs = [Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=8, knobs={"n": [1, 2, 4, 8]})]
    run = make_run(tmp_path, n_items=80, configs=cfgs, infra_rate=0.0)
    s = summarize(run, resamples=200)
    sat = by_config(s)["sc"]["saturation"]
    assert sat["verdict"] in {"levels_off", "still_rising", "may_still_rise", "not_rising"}
    assert sat["selection"]["half_items"] == [40, 40]
    line = next(x for x in render_markdown(s).splitlines() if x.startswith("- sc (baseline)"))
    assert "95% CI" in line.split(";")[-1] and "N=8" in line, line


def test_halves_keep_strata_and_clusters_together() -> None:
    from tts_bench.analysis.halves import split_halves

    strata = ["a"] * 10 + ["b"] * 7 + ["c"] * 3
    clusters = [f"s{i // 2}" for i in range(20)]  # pairs of items share a source
    mask = np.ones(20, dtype=bool)
    mask[-1] = False
    h = split_halves(mask, 3, strata, clusters)
    assert h[-1] == -1 and set(h[:-1]) == {0, 1}
    assert all(h[i] == h[i + 1] for i in range(0, 18, 2))  # a cluster never straddles
    counts = [int((h == x).sum()) for x in (0, 1)]
    assert abs(counts[0] - counts[1]) <= 3  # clusters of two: nearly even halves
    for s in "ab":  # every stratum of several clusters reaches both halves
        assert {h[i] for i in range(19) if strata[i] == s} == {0, 1}
    assert (split_halves(mask, 3, strata, clusters) == h).all()  # seeded
    assert (split_halves(mask, 4, strata, clusters) != h).any()
