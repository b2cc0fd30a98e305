"""Per-stratum routing: for each value of the routing column, the cheapest operating point
within epsilon points of the best accuracy in that stratum, among the points that meet the
budgets (max cost per request, max P95 latency). The routed policy's blended figures (item
share of each stratum x its figures) are compared with the best single point under the same
budgets, and written as `recommended-policy.yaml`.

The choice is made on the same items it is scored on, so the routed gain is optimistic;
the paired CI of routed - single says how much of it is noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci
from tts_bench.analysis.figures import fnum
from tts_bench.analysis.frontier import Point
from tts_bench.analysis.load import RunData
from tts_bench.analysis.stats import quantile

MIN_STRATUM_ITEMS = 20  # below this a stratum's choice is flagged as thin


def _feasible(s: dict[str, Any], max_cost: float | None, max_p95: float | None) -> bool:
    if s["accuracy"] is None:
        return False
    if max_cost is not None and (s["cost_usd"] is None or s["cost_usd"] > max_cost):
        return False
    return not (
        max_p95 is not None and (s["latency_p95_s"] is None or s["latency_p95_s"] > max_p95)
    )


def _pick(cands: list[tuple[Point, dict[str, Any]]], eps: float) -> tuple[Point, dict] | None:
    """Cheapest within eps (fraction) of the best accuracy; unknown cost counts as dearest."""
    if not cands:
        return None
    best = max(s["accuracy"] for _, s in cands)
    near = [(p, s) for p, s in cands if s["accuracy"] >= best - eps - 1e-12]
    return min(
        near,
        key=lambda ps: (
            np.inf if ps[1]["cost_usd"] is None else ps[1]["cost_usd"],
            -ps[1]["accuracy"],
        ),
    )


def _covering(cands: list[tuple[Point, dict[str, Any]]]) -> list[tuple[Point, dict[str, Any]]]:
    """Candidates measured on at least half as many items as the best-covered one: in a
    partial run a config that reached one item must not win on that one item."""
    most = max((s["n_items"] or 0 for _, s in cands), default=0)
    return [(p, s) for p, s in cands if (s["n_items"] or 0) * 2 >= most]


def route(
    data: RunData, pts: list[Point], w: np.ndarray, epsilon: float, confidence: float
) -> dict[str, Any]:
    """The routing table, blended figures of the routed policy and of the best single point."""
    a = data.analysis
    max_cost, max_p95 = a.max_cost_per_request, a.max_p95_latency_s
    eps = epsilon / 100
    col = next(iter(data.strata), None)
    n = len(data.items)
    labels = np.asarray(data.strata[col]) if col else np.array([""] * n)
    values = data.strata_values[col] if col else [""]
    share = {v: float((labels == v).mean()) for v in values}

    def blended(choice: dict[str, Point]) -> dict[str, Any]:
        acc = cost = 0.0
        cost_known = True
        lat = []
        for v in values:
            s = choice[v].stats(labels == v)
            acc += share[v] * (s["accuracy"] or 0.0)
            if s["cost_usd"] is None:
                cost_known = False
            else:
                cost += share[v] * s["cost_usd"]
            lat.append(choice[v].latency[(labels == v) & choice[v].present])
        routed_lat = np.concatenate(lat) if lat else np.zeros(0)
        return {
            "accuracy": fnum(acc),
            "cost_usd": fnum(cost) if cost_known else None,
            # one routed item of unknown latency makes the blended P95 unknown
            "latency_p95_s": None if np.isnan(routed_lat).any() else quantile(routed_lat, 0.95),
        }

    singles = _covering([(p, p.stats()) for p in pts])
    single = _pick([(p, s) for p, s in singles if _feasible(s, max_cost, max_p95)], 0.0)
    routes: dict[str, Any] = {}
    choice: dict[str, Point] = {}
    for v in values:
        m = labels == v
        cands = _covering([(p, p.stats(m)) for p in pts])
        ok = [(p, s) for p, s in cands if _feasible(s, max_cost, max_p95)]
        picked = _pick(ok, eps)
        if picked is None:  # nothing meets the budgets here: fall back to the single choice
            picked = (single[0], single[0].stats(m)) if single else None
        if picked is None:
            continue
        best = max(ok, key=lambda ps: ps[1]["accuracy"]) if ok else picked
        choice[v] = picked[0]
        routes[v] = {
            "label": picked[0].label,
            "config": picked[0].config,
            "n": picked[0].n,
            **picked[1],
            "share": share[v],
            "best_label": best[0].label,
            "best_accuracy": best[1]["accuracy"],
            "meets_budgets": bool(ok),
            "thin": picked[1]["n_items"] < MIN_STRATUM_ITEMS,
        }
    out: dict[str, Any] = {
        "by": col,
        "epsilon_points": epsilon,
        "budgets": {"max_cost_per_request": max_cost, "max_p95_latency_s": max_p95},
        "routes": routes,
        "routed": None,
        "best_single": None,
        "routed_vs_single": None,
    }
    if single is None or len(choice) != len(values):
        return out
    out["routed"] = blended(choice)
    out["best_single"] = {"label": single[0].label, "config": single[0].config, "n": single[0].n}
    out["best_single"].update(blended(dict.fromkeys(values, single[0])))
    routed_v = np.zeros(n)
    routed_m = np.zeros(n, dtype=bool)
    for v in values:
        m = labels == v
        routed_v[m] = choice[v].value[m]
        routed_m[m] = choice[v].scored[m]
    pair = routed_m & single[0].scored
    d = np.where(pair, routed_v - single[0].value, 0.0)
    batch = MeanBatch(w)
    batch.add(d * pair, pair)
    lo, hi = percentile_ci(100 * batch.run()[:, 0], confidence)
    out["routed_vs_single"] = {
        "accuracy_points": {
            "value": fnum(100 * d[pair].mean()) if pair.any() else None,
            "ci": [lo, hi],
        },
        "n_paired": int(pair.sum()),
        "cost_ratio": fnum(out["routed"]["cost_usd"] / out["best_single"]["cost_usd"])
        if out["routed"]["cost_usd"] is not None and out["best_single"]["cost_usd"]
        else None,
    }
    return out


def _knobs(data: RunData, config: str, n: int | None) -> dict[str, Any]:
    spec = dict(data.config_specs.get(config, {}))
    knobs = {
        k: v for k, v in spec.items() if k not in ("name", "strategy", "model") and v is not None
    }
    knobs = {k: v for k, v in knobs.items() if v not in ({}, [])}
    if n is not None:
        knobs["n"] = n
    elif isinstance(knobs.get("n"), list) and knobs["n"]:
        knobs["n"] = max(knobs["n"])  # the pool size actually run
    return knobs


def policy(data: RunData, routing: dict[str, Any]) -> dict[str, Any]:
    """A small mapping a service can load: per stratum value the config, model, strategy and
    knobs to use, with the expected accuracy, cost and P95 measured in this run."""

    def entry(label: str, config: str, n: int | None, figs: dict[str, Any]) -> dict[str, Any]:
        spec = data.config_specs.get(config, {})
        return {
            "config": config,
            "point": label,
            "strategy": spec.get("strategy"),
            "model": spec.get("model"),
            "knobs": _knobs(data, config, n),
            "expected": {
                "accuracy": figs.get("accuracy"),
                "cost_usd": figs.get("cost_usd"),
                "latency_p95_s": figs.get("latency_p95_s"),
            },
        }

    suite = data.manifest.get("suite") or {}
    single = routing.get("best_single")
    return {
        "policy_version": 1,
        "suite": suite.get("name"),
        "run_id": data.manifest.get("run_id"),
        "metric": data.metric,
        "route_by": routing["by"],
        "epsilon_points": routing["epsilon_points"],
        "budgets": routing["budgets"],
        "default": entry(single["label"], single["config"], single["n"], single)
        if single
        else None,
        "routes": {
            v: entry(r["label"], r["config"], r["n"], r) for v, r in routing["routes"].items()
        },
        "expected_blended": routing.get("routed"),
    }


def write_policy(path: Path, pol: dict[str, Any]) -> Path:
    import yaml

    head = (
        "# Recommended routing policy: per stratum, the cheapest setting within epsilon points\n"
        "# of the best accuracy measured there (tts-bench summary; figures are in-sample).\n"
    )
    path.write_text(head + yaml.safe_dump(pol, sort_keys=False, allow_unicode=True), "utf-8")
    return path
