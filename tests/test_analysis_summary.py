"""summary.json figures recomputed independently (plain pandas / numpy / scipy) from
records.jsonl match; the file is valid JSON without NaN; the policy YAML loads."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binomtest

from tests.analysis_fixtures import Cfg, make_run
from tts_bench.analysis import summarize, write_summary
from tts_bench.analysis.power import exact_power
from tts_bench.errors import UserError


def read_records(run: Path) -> pd.DataFrame:
    rows = []
    for line in (run / "records.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the torn last line
    df = pd.DataFrame(rows)
    return df.drop_duplicates(["item_id", "config"], keep="last").reset_index(drop=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(
        tmp_path_factory.mktemp("an"), n_items=160, infra_rate=0.05, unknown_cost_rate=0.03
    )


@pytest.fixture(scope="module")
def summary(run: Path) -> dict:
    return summarize(run, resamples=1000, target_delta=5.0)


def by_config(summary: dict) -> dict[str, dict]:
    return {c["config"]: c for c in summary["configs"]}


def test_json_safe_and_meta(summary: dict, run: Path) -> None:
    json.dumps(summary, allow_nan=False)
    df = read_records(run)
    meta = summary["meta"]
    assert meta["baseline"] == "single" and meta["resamples"] == 1000
    assert meta["n_items"] == df.item_id.nunique() == 160
    assert meta["n_records"] == len(df)
    items = df.drop_duplicates("item_id")
    counts = items.strata.map(lambda s: s["difficulty"]).value_counts().to_dict()
    assert meta["item_counts"]["difficulty"] == counts
    assert meta["total_spend_usd"] == pytest.approx(df.cost_usd.sum())
    assert meta["records_unknown_cost"] == int(df.cost_usd.isna().sum()) > 0
    assert meta["resample_strata"] == ["difficulty"]


def test_per_config_figures(summary: dict, run: Path) -> None:
    df = read_records(run)
    figs = by_config(summary)
    for name, g in df.groupby("config"):
        f = figs[name]
        scored = g.correct.dropna().astype(float)
        assert f["n_items"] == len(g)
        assert f["n_scored"] == len(scored)
        assert f["unscored_rate"] == pytest.approx(g.correct.isna().mean())
        assert f["accuracy"]["value"] == pytest.approx(scored.mean())
        lo, hi = f["accuracy"]["ci"]
        assert lo < scored.mean() < hi and hi - lo < 0.2
        assert f["cost"]["mean_usd"] == pytest.approx(g.cost_usd.mean())
        assert f["cost"]["total_usd"] == pytest.approx(g.cost_usd.sum())
        assert f["cost"]["n_unknown"] == int(g.cost_usd.isna().sum())
        assert f["calls_per_request"] == pytest.approx(g.n_calls.mean())
        assert f["tokens"]["output_mean"] == pytest.approx(g.output_tokens.mean())
        lat = g.latency_s.to_numpy()
        assert lat.min() > 0  # the stale duplicate (latency -1) was superseded
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert f["latency"][key]["value"] == pytest.approx(
                np.quantile(lat, q, method="inverted_cdf")
            )
        assert f["latency"]["p99"]["ci"][1] is None and "P99" in f["latency"]["note"]
        fails = g.failure.dropna().value_counts().to_dict()
        assert f["failures"]["counts"] == fails
        infra = sum(v for k, v in fails.items() if k in ("rate_limited", "timeout", "api_error"))
        assert f["failures"]["infrastructure"]["count"] == infra == g.correct.isna().sum()
        for val, blk in f["strata"]["difficulty"].items():
            sub = g[g.strata.map(lambda s: s["difficulty"]) == val].correct.dropna()
            assert blk["accuracy"]["value"] == pytest.approx(sub.astype(float).mean())
            assert blk["accuracy"]["method"] == "wilson"  # at every n
            ci = binomtest(int(sub.astype(bool).sum()), len(sub)).proportion_ci(method="wilson")
            assert blk["accuracy"]["ci"] == pytest.approx([ci.low, ci.high], abs=1e-9)


def test_paired_deltas(summary: dict, run: Path) -> None:
    df = read_records(run)
    base = df[df.config == "single"].set_index("item_id")
    figs = by_config(summary)
    ps = {}
    for name in ("cot", "sc", "bon"):
        cfg = df[df.config == name].set_index("item_id")
        j = cfg.join(base.add_suffix("_b"), how="inner")
        pair = j.dropna(subset=["correct", "correct_b"])
        a, b = pair.correct.astype(bool), pair.correct_b.astype(bool)
        d = figs[name]["delta"]
        assert d["n_paired"] == len(pair)
        assert d["accuracy_points"]["value"] == pytest.approx(100 * (a.mean() - b.mean()))
        lo, hi = d["accuracy_points"]["ci"]
        assert lo < d["accuracy_points"]["value"] < hi
        p = binomtest(int((a & ~b).sum()), int((a ^ b).sum()), 0.5).pvalue
        assert d["p_value"] == pytest.approx(p)
        ps[name] = p
        known = j.dropna(subset=["cost_usd", "cost_usd_b"])
        assert d["cost_ratio"]["value"] == pytest.approx(
            known.cost_usd.mean() / known.cost_usd_b.mean()
        )
        for key, q in (("latency_p50_ratio", 0.5), ("latency_p95_ratio", 0.95)):
            want = np.quantile(j.latency_s, q, method="inverted_cdf") / np.quantile(
                j.latency_s_b, q, method="inverted_cdf"
            )
            assert d[key]["value"] == pytest.approx(want)
            assert d[key]["ci"][0] < want < d[key]["ci"][1]
        # power of the exact McNemar test at the observed discordance psi: the reported MDE
        # and items for the 5-point target reach 80% exactly, and no fewer items do
        pw = figs[name]["power"]
        psi = float((a ^ b).mean())
        assert pw["method"] == "exact_mcnemar" and pw["discordance"] == pytest.approx(psi)
        m = pw["mde"] / 100
        assert exact_power(len(pair), (psi + m) / 2, (psi - m) / 2) == pytest.approx(0.8, abs=1e-3)
        var = np.var(100 * (a.astype(float) - b.astype(float)), ddof=1)
        assert pw["mde"] > np.sqrt(7.849 * var / len(pair))  # the normal formula is optimistic
        need = pw["n_for_target"]
        assert exact_power(need, (psi + 0.05) / 2, (psi - 0.05) / 2) >= 0.8
        assert exact_power(need - 1, (psi + 0.05) / 2, (psi - 0.05) / 2) < 0.8
    order = sorted(ps, key=ps.get)
    holm = [min(1.0, (3 - r) * ps[n]) for r, n in enumerate(order)]
    holm = np.maximum.accumulate(holm)
    for n, h in zip(order, holm, strict=True):
        assert figs[n]["delta"]["p_holm"] == pytest.approx(h)
        assert figs[n]["delta"]["significant"] == (h < 0.05)
    assert figs["single"]["delta"] is None


def test_pool_curves_endpoints(summary: dict, run: Path) -> None:
    df = read_records(run)
    sat = by_config(summary)["sc"]["saturation"]
    pools = df[(df.config == "sc") & df.correct.notna()]
    per_item = pools.samples.map(lambda ss: np.mean([bool(s["correct"]) for s in ss]))
    curves = sat["curves"]
    assert sat["pool_size"] == 8 and sat["n_items"] == len(pools)
    assert curves["majority"]["mean"][0] == pytest.approx(per_item.mean())
    assert curves["pass_at_k"]["mean"][-1] == pytest.approx(
        pools.samples.map(lambda ss: any(s["correct"] for s in ss)).mean()
    )
    # the full-pool vote equals the records' own answers up to their random tie-breaks
    assert curves["majority"]["mean"][-1] == pytest.approx(
        pools.correct.astype(float).mean(), abs=0.03
    )
    assert curves["cost_usd"][-1] == pytest.approx(pools.cost_usd.mean())  # NaN-skipping
    assert curves["cost_unknown_items"] == int(pools.cost_usd.isna().sum())
    y = np.array(curves["majority"]["mean"])
    n = sat["in_sample"]["saturation_point"]  # the design's rule on all items
    assert (y[-1] - y[n - 1 :]).max() <= sat["epsilon_points"] / 100 + 1e-9
    if n > 1:
        assert y[-1] - y[n - 2] > sat["epsilon_points"] / 100
    assert by_config(summary)["bon"]["saturation"]["selector"] == "best_of_k"


def test_write_summary_and_policy(run: Path) -> None:
    path = write_summary(run, resamples=200)
    assert json.loads(path.read_text())["meta"]["resamples"] == 200
    pol = yaml.safe_load((run / "recommended-policy.yaml").read_text())
    assert set(pol["routes"]) == {"easy", "hard"}
    for r in pol["routes"].values():
        assert r["config"] in {"single", "cot", "sc", "bon"}
        assert r["expected"]["accuracy"] is not None


def test_small_run_uses_wilson_and_is_seeded(tmp_path: Path) -> None:
    run = make_run(tmp_path, n_items=40, infra_rate=0.0)
    a = summarize(run, resamples=300, seed=3)
    b = summarize(run, resamples=300, seed=3)
    assert a == b
    f = by_config(a)["single"]
    assert f["accuracy"]["method"] == "wilson"
    k, n = f["accuracy"]["value"] * f["n_scored"], f["n_scored"]
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert f["accuracy"]["ci"] == pytest.approx([centre - half, centre + half], abs=1e-5)


def test_not_a_run_dir(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        summarize(tmp_path)


@pytest.mark.parametrize(
    "kw",
    [
        {"n_items": 3},
        {"n_items": 30, "infra_rate": 1.0},
        {"n_items": 30, "unknown_cost_rate": 1.0},
        {"n_items": 30, "configs": [Cfg("only", {"easy": 0.8, "hard": 0.4}, pool=4)]},
    ],
    ids=["three-items", "all-infra", "no-costs", "baseline-only"],
)
def test_edge_runs_are_json_safe(tmp_path: Path, kw: dict) -> None:
    run = make_run(tmp_path, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = summarize(run, resamples=100)
    json.dumps(s, allow_nan=False)
    if kw.get("n_items") == 3:  # three paired items cannot size an effect
        for f in s["configs"][1:]:
            p = f["power"]
            assert p["mde"] is None and p["n_for_target"] is None and p["n_for_observed"] is None
            assert p["note"].startswith("too few items to size")
    if kw.get("infra_rate") == 1.0:
        f = by_config(s)["cot"]
        assert f["accuracy"]["value"] is None and f["unscored_rate"] == 1.0
        assert f["delta"]["accuracy_points"]["value"] is None and f["saturation"] is None
    if kw.get("unknown_cost_rate") == 1.0:
        f = by_config(s)["cot"]
        assert f["cost"]["mean_usd"] is None and f["cost"]["total_usd"] is None
        assert f["cost"]["n_unknown"] == 30
