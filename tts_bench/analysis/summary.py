"""Assemble summary.json from a run directory: meta, per-config figures and deltas, curves,
adaptive replay, frontier, routing and power. The schema is documented in docs/analysis.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.analysis.adaptive import replay
from tts_bench.analysis.bootstrap import counts_matrix
from tts_bench.analysis.curves import build_pools, withheld
from tts_bench.analysis.deltas import paired_deltas_steps
from tts_bench.analysis.figures import config_figures
from tts_bench.analysis.frontier import pareto_steps, points
from tts_bench.analysis.load import RunData, load_run
from tts_bench.analysis.ppi import judged_section
from tts_bench.analysis.routing import policy, route_steps, write_policy
from tts_bench.analysis.saturation import saturation_block_steps
from tts_bench.analysis.steps import drive, together
from tts_bench.errors import UserError

# 2: score intervals (Wilson, Tango), cross-fitted routing and curve verdicts; a summary.json
# of version 1 is recomputed, never gated on.
SCHEMA_VERSION = 2
SUMMARY = "summary.json"
POLICY = "recommended-policy.yaml"


def resample_strata(data: RunData) -> tuple[list[str], list[str] | None]:
    """Strata for the bootstrap: the sampling design's columns (dataset.sample.by) when set,
    else every strata column, combined; if a combined cell has fewer than 2 items, the first
    column alone; if that too is that thin, no stratification."""
    suite = data.manifest.get("suite") or {}
    by = ((suite.get("dataset") or {}).get("sample") or {}).get("by") or []
    cols = [c for c in by if c in data.strata] or list(data.strata)
    for cand in (cols, cols[:1]):
        if not cand:
            break
        labels = ["|".join(data.strata[c][i] for c in cand) for i in range(len(data.items))]
        if min(labels.count(v) for v in set(labels)) >= 2:
            return cand, labels
    return [], None


def ci_methods(metric: str) -> dict[str, str]:
    """How each interval is made (text; docs/analysis.md has their measured coverage)."""
    binary = metric == "accuracy"
    return {
        "accuracy": "wilson score interval at every n"
        + ("" if binary else " on the summed F1 (conservative)")
        + "; effective counts when items share a cluster",
        "deltas": "tango paired score interval from the discordant counts"
        + ("" if binary else ", scaled to the differences' size")
        + "; effective counts when items share a cluster",
        "cost_ratio": "paired studentized bootstrap of the log ratio of means",
        "latency_ratios": "paired percentile bootstrap of weighted order statistics",
        "latency_quantiles": "order statistics (binomial), distribution-free",
    }


def multiplicity(deltas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How the stars are corrected: Holm across configs (overall) and across every config x
    stratum cell of the strata table; the intervals beside them are not adjusted."""
    m_overall = m_strata = 0
    for entry in deltas.values():
        m_overall = max(m_overall, entry["overall"].get("holm_m") or 0)
        for vals in entry["strata"].values():
            for blk in vals.values():
                m_strata = max(m_strata, blk.get("holm_m") or 0)
    return {
        "overall": {"method": "holm", "family": "configs", "m": m_overall},
        "strata": {"method": "holm", "family": "configs_x_strata", "m": m_strata},
        "intervals": "unadjusted",
    }


def clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [clean(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def _summary(
    data: RunData, *, resamples: int, seed: int, epsilon: float, confidence: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    cols, labels = resample_strata(data)
    w = counts_matrix(
        len(data.items), resamples=resamples, seed=seed, strata=labels, clusters=data.clusters
    )
    figs = config_figures(data, w, confidence)
    pools = {}
    for c, name in enumerate(data.configs):
        p = build_pools(data, c)
        if p is not None:
            pools[name] = p
    pts = points(data, pools)
    # every bootstrap product of the analysis in one pass over the counts (analysis/steps.py)
    deltas, routing, frontier, *curves = drive(
        together(
            paired_deltas_steps(data, w, confidence),
            route_steps(data, pts, w, epsilon, confidence, seed=seed),
            # the frontier's steps resample as every other interval of the run (strata, clusters)
            pareto_steps(pts, w=w, seed=seed, confidence=confidence),
            *[saturation_block_steps(data, p, w, epsilon, confidence) for p in pools.values()],
        )
    )
    saturation = dict(zip(pools, curves, strict=True))
    configs = []
    for name in data.configs:
        spec = data.config_specs.get(name, {})
        f = figs[name]
        d = deltas.get(name)
        p = pools.get(name)
        configs.append(
            {
                "config": name,
                "strategy": spec.get("strategy"),
                "model": spec.get("model"),
                "is_baseline": name == data.baseline,
                **f["overall"],
                "delta": None
                if d is None
                else {k: v for k, v in d["overall"].items() if k != "power"},
                "power": None if d is None else d["overall"]["power"],
                "strata": {
                    col: {
                        val: {**blk, "delta": None if d is None else d["strata"][col][val]}
                        for val, blk in vals.items()
                    }
                    for col, vals in f["strata"].items()
                },
                "saturation": saturation.get(name),
                "adaptive": None if p is None else replay(p, seed=seed, confidence=confidence),
                # why saturation and adaptive are null although the records keep pools
                "note": withheld(data, data.index(name)),
            }
        )
    evals = _eval_costs(data, configs)
    _pool_costs(data, configs)
    costs = data.cost[data.present]
    man = data.manifest
    suite = man.get("suite") or {}
    missing = int((~data.present).sum())
    notes = []
    if man.get("status") != "complete":
        notes.append(f"run status is {man.get('status')!r}: figures cover the records so far")
    if missing:
        notes.append(f"{missing} (item, config) pairs have no record")
    meta = {
        "schema_version": SCHEMA_VERSION,
        "run_id": man.get("run_id"),
        "status": man.get("status"),
        "suite": suite.get("name"),
        "scorer": data.scorer.type,
        "scorer_normalize": list(data.scorer.normalize),
        "metric": data.metric,
        "baseline": data.baseline,
        "configs": data.configs,
        "seed": seed,
        "resamples": resamples,
        "confidence": confidence,
        "epsilon_points": epsilon,
        "target_delta_points": data.analysis.target_delta,
        "ci_method": ci_methods(data.metric),
        "multiplicity": multiplicity(deltas),
        "resample_strata": cols,
        "cluster_column": data.cluster_column,
        "n_clusters": len(set(data.clusters)) if data.clusters else None,
        "dataset_fingerprint": man.get("dataset_fingerprint"),
        "item_count": man.get("item_count"),
        "n_items": len(data.items),
        "n_records": int(data.present.sum()),
        "missing_pairs": missing,
        "strata_columns": list(data.strata),
        "item_counts": {
            col: {v: labs.count(v) for v in data.strata_values[col]}
            for col, labs in data.strata.items()
        },
        # null when no record's cost is known: unknown is not $0
        "total_spend_usd": float(np.nansum(costs)) if (~np.isnan(costs)).any() else None,
        "records_unknown_cost": int(np.isnan(costs).sum()),
        "manifest_spent_usd": man.get("spent_usd"),
        **evals,
        "simulated": man.get("simulated"),
        "started_at": man.get("started_at"),
        "finished_at": man.get("finished_at"),
        "tool_version": man.get("tool_version"),
        "notes": notes,
    }
    out = {
        "meta": meta,
        "configs": configs,
        "frontier": frontier,
        "routing": routing,
        # judge vs human review, corrected accuracy (analysis/ppi.py); null without labels
        "judged": judged_section(data, confidence=confidence, seed=seed),
    }
    return clean(out), clean(policy(data, routing))


def _eval_costs(data: RunData, configs: list[dict[str, Any]]) -> dict[str, Any]:
    """A judged run's evaluation cost (analysis/evalcost.py): `eval_cost` on each config
    entry and the total for meta; nothing for a run without a judge."""
    from tts_bench.analysis.evalcost import eval_costs, judged

    recs = [r for row in data.records for r in row if r is not None]
    if not judged(recs):
        return {}
    ev = eval_costs(recs, data.configs)
    for entry in configs:
        entry["eval_cost"] = ev["configs"][entry["config"]]
    return {"total_eval_cost_usd": ev["total"]["eval_cost_usd"]}


def _pool_costs(data: RunData, configs: list[dict[str, Any]]) -> None:
    """`pool_cost` on each config entry with pools: how they were drawn and what the other
    way would have cost (analysis/poolcost.py)."""
    from tts_bench.analysis.poolcost import pool_costs

    found = pool_costs([r for row in data.records for r in row if r is not None], data.manifest)
    for entry in configs:
        if entry["config"] in found:
            entry["pool_cost"] = found[entry["config"]]


def _resolve(data: RunData, **kw: Any) -> dict[str, Any]:
    """The suite's `analysis:` knobs with the caller's overrides, validated like a suite."""
    from pydantic import ValidationError

    from tts_bench.suite import AnalysisSpec

    given = {k: v for k, v in kw.items() if v is not None}
    try:
        a = AnalysisSpec.model_validate({**data.analysis.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise UserError(f"analysis {field}: {err['msg']}") from None
    data.analysis = a
    return {
        "resamples": int(a.resamples),
        "seed": int(a.seed),
        "epsilon": float(a.epsilon),
        "confidence": float(a.confidence),
    }


def summarize_with_policy(run_dir: Path | str, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return summarize_data(load_run(run_dir), **kw)


def summarize_data(data: RunData, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, policy) of a run already read (`load.run_data`); knobs as `summarize`."""
    return _summary(data, **_resolve(data, **kw))


def write(run_dir: Path | str, **kw: Any) -> Path:
    """Write summary.json and recommended-policy.yaml, each atomically (temp file in the run
    directory + rename; the temp file is removed on failure), so a crash or a full disk
    leaves the previous file, never a half-written one."""
    summary, pol = summarize_with_policy(run_dir, **kw)
    return write_files(run_dir, summary, pol)


def write_files(run_dir: Path | str, summary: dict[str, Any], pol: dict[str, Any]) -> Path:
    """summary.json and recommended-policy.yaml of a summary already computed, as `write`."""
    from tts_bench.fsutil import atomic_write_text

    rd = Path(run_dir)
    path = rd / SUMMARY
    atomic_write_text(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_policy(rd / POLICY, pol)
    return path
