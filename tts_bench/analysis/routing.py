"""Per-stratum routing: for each value of the routing column, the cheapest operating point
within epsilon points of the best accuracy in that stratum, among the points that meet the
budgets (max cost per request, max P95 latency), compared with the best single point under
the same budgets, and written as `recommended-policy.yaml`.

The routes are chosen on all items (analysis/crossfit.py). Their figures are out of sample:
cross-fitted over k folds (chosen on k - 1 folds, read on the held-out one), for the routed
policy and for the best single point alike, because a choice scored on the items that made
it is optimistic. The in-sample figures are kept under `in_sample`, labelled as such.
Intervals allow for the dependence between folds (the variance factor of
`crossfit.inflation`): routed and single accuracy, Wilson at the effective size n / factor
(a widened percentile bootstrap for a non-binary metric); cost and routed - single, the
percentile bootstrap of the cross-fitted per-item outcomes on the run's shared weights,
each arm stretched by sqrt(factor).
A run without strata has no routing recommendation: only the best single point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci
from tts_bench.analysis.crossfit import FOLDS, Outcomes, assign, choose, cross_fit, inflation
from tts_bench.analysis.figures import fnum
from tts_bench.analysis.frontier import Point
from tts_bench.analysis.load import RunData
from tts_bench.analysis.stats import quantile, wilson
from tts_bench.analysis.steps import Step, driven, results, together

MIN_STRATUM_ITEMS = 20  # below this a stratum's choice is flagged as thin
NO_STRATA = "the dataset has no strata column to route by"


def _blend(o: Outcomes, labels: np.ndarray, values: list[str], share: dict) -> dict[str, Any]:
    """Blended figures: the item share of each stratum x its mean value and mean cost (over
    the items whose cost is known), P95 over every routed item."""
    acc = cost = 0.0
    cost_known = True
    for v in values:
        m = labels == v
        sm, cm = m & o.scored, m & o.present & ~np.isnan(o.cost)
        acc += share[v] * (o.value[sm].mean() if sm.any() else 0.0)
        if cm.any():
            cost += share[v] * o.cost[cm].mean()
        else:
            cost_known = False
    lat = o.latency[o.present]
    return {
        "accuracy": fnum(acc) if o.scored.any() else None,
        "cost_usd": fnum(cost) if cost_known else None,
        # one routed item of unknown latency makes the blended P95 unknown
        "latency_p95_s": None if np.isnan(lat).any() or not lat.size else quantile(lat, 0.95),
        "n_items": int(o.scored.sum()),
    }


def _widen(est: float | None, ci: tuple[Any, Any], factor: float) -> list[Any]:
    """A percentile interval's two arms each stretched by sqrt(factor) about the estimate."""
    lo, hi = ci
    if est is None or lo is None or hi is None:
        return [None, None]
    f = float(np.sqrt(factor))
    # max(.., 0): the float32 weights can leave a constant's estimate a hair outside its ends
    return [fnum(est - f * max(est - lo, 0.0)), fnum(est + f * max(hi - est, 0.0))]


def _intervals(
    o: Outcomes, figs: dict[str, Any], w: np.ndarray, confidence: float, factor: float
) -> Step[None]:
    """Adds accuracy_ci and cost_usd_ci in place, for cross-fitted outcomes whose variance is
    `factor` x that of independent items: accuracy, Wilson at the effective size
    n / factor (0/1 values), else the widened bootstrap; cost, the widened bootstrap."""
    v = o.value[o.scored]
    batch = MeanBatch(w)
    ja = batch.add(o.value * o.scored, o.scored)
    known = o.present & ~np.isnan(o.cost)
    jc = batch.add(np.where(known, o.cost, 0.0), known)
    res = yield from results(batch)
    acc = figs["accuracy"]
    if v.size and np.isin(v, (0.0, 1.0)).all():
        n_eff = v.size / factor
        lo_hi = wilson(float(acc) * n_eff, n_eff, confidence)  # type: ignore[arg-type]
        figs["accuracy_ci"] = list(lo_hi) if lo_hi else [None, None]
        figs["accuracy_interval"] = "wilson"
    else:
        figs["accuracy_ci"] = _widen(acc, percentile_ci(res[:, ja], confidence), factor)
        figs["accuracy_interval"] = "bootstrap"
    cost = figs["cost_usd"]
    figs["cost_usd_ci"] = _widen(cost, percentile_ci(res[:, jc], confidence), factor)


def _versus(
    a: Outcomes,
    b: Outcomes,
    fa: dict,
    fb: dict,
    w: np.ndarray,
    confidence: float,
    factor: float = 1.0,
) -> Step[dict[str, Any]]:
    """Paired routed - single on the items both score, with its bootstrap CI (each arm
    stretched by sqrt(factor), the variance factor of cross-fitted outcomes)."""
    pair = a.scored & b.scored
    d = np.where(pair, a.value - b.value, 0.0)
    batch = MeanBatch(w)
    batch.add(d * pair, pair)
    value = fnum(100 * d[pair].mean()) if pair.any() else None
    res = yield from results(batch)
    return {
        "accuracy_points": {
            "value": value,
            "ci": _widen(value, percentile_ci(100 * res[:, 0], confidence), factor),
        },
        "n_paired": int(pair.sum()),
        "cost_ratio": fnum(fa["cost_usd"] / fb["cost_usd"])
        if fa["cost_usd"] is not None and fb["cost_usd"]
        else None,
    }


def route_steps(
    data: RunData,
    pts: list[Point],
    w: np.ndarray,
    epsilon: float,
    confidence: float,
    *,
    folds: int = FOLDS,
    seed: int = 0,
) -> Step[dict[str, Any]]:
    """The routing table, and out-of-sample (cross-fitted) figures of the routed policy and of
    the best single point. folds: k of the cross-fitting; seed: its fold assignment."""
    a = data.analysis
    col = next(iter(data.strata), None)
    n = len(data.items)
    labels = np.asarray(data.strata[col]) if col else np.array([""] * n)
    values = list(data.strata_values[col]) if col else [""]
    return (
        yield from route_points_steps(
            pts,
            labels,
            values,
            by=col,
            epsilon=epsilon,
            max_cost=a.max_cost_per_request,
            max_p95=a.max_p95_latency_s,
            w=w,
            confidence=confidence,
            folds=folds,
            seed=seed,
        )
    )


route = driven(route_steps)


def route_points_steps(
    pts: list[Point],
    labels: np.ndarray,
    values: list[str],
    *,
    by: str | None,
    epsilon: float,
    max_cost: float | None,
    max_p95: float | None,
    w: np.ndarray,
    confidence: float,
    folds: int = FOLDS,
    seed: int = 0,
) -> Step[dict[str, Any]]:
    """`route` on plain arrays: labels (items,) stratum value per item, `values` in display
    order, `by` the column's name (None: no strata, so no routes), budgets in USD and
    seconds, w the (resamples, items) bootstrap weights. A step: every interval in one round."""
    n = labels.size
    eps = epsilon / 100
    share = {v: float((labels == v).mean()) for v in values}
    full = choose(pts, labels, values, np.ones(n, dtype=bool), eps, max_cost, max_p95)
    out: dict[str, Any] = {
        "by": by,
        "epsilon_points": epsilon,
        "budgets": {"max_cost_per_request": max_cost, "max_p95_latency_s": max_p95},
        "routes": {},
        "routed": None,
        "best_single": None,
        "routed_vs_single": None,
        "cross_fit": None,
        "in_sample": None,
        "note": None if by else NO_STRATA,
    }
    if full.single is None:
        return out
    cf = cross_fit(pts, labels, values, eps, max_cost, max_p95, folds=folds, seed=seed)
    if cf is None:
        return out
    routed_cf, single_cf, fold = cf
    k = int(fold.max()) + 1
    factor = inflation(k)
    out["cross_fit"] = {"folds": k, "seed": seed, "variance_factor": factor}
    sp = full.single[0]
    single_is = Outcomes.empty(n)
    single_is.take(sp, np.ones(n, dtype=bool))
    head = {"label": sp.label, "config": sp.config, "n": sp.n}
    out["best_single"] = {**head, **_blend(single_cf, labels, values, share)}
    steps = [_intervals(single_cf, out["best_single"], w, confidence, factor)]
    in_sample: dict[str, Any] = {"best_single": _blend(single_is, labels, values, share)}
    out["in_sample"] = in_sample
    if not by or len(full.routes) != len(values):
        yield from together(*steps)
        return out
    routed_is = Outcomes.empty(n)
    assign({v: pv[0] for v, pv in full.routes.items()}, labels, np.ones(n, bool), routed_is)
    for v in values:
        p, st = full.routes[v]
        m = labels == v
        oos = _blend(routed_cf, np.where(m, v, ""), [v], {v: 1.0})
        out["routes"][v] = {
            "label": p.label,
            "config": p.config,
            "n": p.n,
            **st,
            "accuracy": oos["accuracy"],
            "cost_usd": oos["cost_usd"],
            "share": share[v],
            "best_label": full.best[v][0].label,
            "best_accuracy": full.best[v][1]["accuracy"],
            "meets_budgets": full.meets[v],
            "thin": st["n_items"] < MIN_STRATUM_ITEMS,
            "in_sample": {"accuracy": st["accuracy"], "cost_usd": st["cost_usd"]},
        }
    out["routed"] = _blend(routed_cf, labels, values, share)
    in_sample["routed"] = _blend(routed_is, labels, values, share)
    steps += [
        _intervals(routed_cf, out["routed"], w, confidence, factor),
        _versus(routed_cf, single_cf, out["routed"], out["best_single"], w, confidence, factor),
        _versus(routed_is, single_is, in_sample["routed"], in_sample["best_single"], w, confidence),
    ]
    *_, out["routed_vs_single"], in_sample["routed_vs_single"] = yield from together(*steps)
    return out


route_points = driven(route_points_steps)


def _knobs(data: RunData, config: str, n: int | None) -> dict[str, Any]:
    spec = dict(data.config_specs.get(config, {}))
    knobs = {
        k: v for k, v in spec.items() if k not in ("name", "strategy", "model") and v is not None
    }
    # empty settings and `batch: false` (the default run mode) say nothing to a service
    knobs = {k: v for k, v in knobs.items() if v not in ({}, []) and (k, v) != ("batch", False)}
    if n is not None:
        knobs["n"] = n
    elif isinstance(knobs.get("n"), list) and knobs["n"]:
        knobs["n"] = max(knobs["n"])  # the pool size actually run
    return knobs


def policy(data: RunData, routing: dict[str, Any]) -> dict[str, Any]:
    """A small mapping a service can load: per stratum value the config, model, strategy and
    knobs to use, with the expected accuracy and cost (cross-fitted: out of sample) and P95
    measured in this run."""

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

    from tts_bench.fsutil import atomic_write_text

    head = (
        "# Recommended routing policy: per stratum, the cheapest setting within epsilon points\n"
        "# of the best accuracy measured there (tts-bench summary; expected accuracy and cost\n"
        "# are cross-fitted: chosen on k-1 folds of the items, measured on the held-out fold).\n"
    )
    text = head + yaml.safe_dump(pol, sort_keys=False, allow_unicode=True)
    atomic_write_text(path, text)  # temp file + rename: never a half-written policy
    return path
