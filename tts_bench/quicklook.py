"""The compact results table `run` prints: plain Python over records, no pandas; latency
percentiles are the report's (order statistics over every record with a latency)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tts_bench.analysis.stats import quantile  # the report's order-statistic definition


def table_rows(records: list[dict[str, Any]], configs: list[str]) -> list[dict[str, Any]]:
    """One row per config: items, accuracy over scored records, cost/request, P50/P95
    critical-path latency, failure counts. Unscored records are counted, never as wrong."""
    rows = []
    for name in configs:
        recs = [r for r in records if r.get("config") == name]
        scored = [r for r in recs if r.get("correct") is not None]
        # a judged record's score is the judges' mean verdict; its accuracy is the verdict
        values = [
            r["score"]
            if r.get("score") is not None and "judge" not in (r.get("info") or {})
            else float(bool(r["correct"]))
            for r in scored
        ]
        # no scored record: no cost or latency (those of failed calls are not the config's)
        basis = recs if scored else []
        costs = [r["cost_usd"] for r in basis if r.get("cost_usd") is not None]
        lat = [r["latency_s"] for r in basis if r.get("latency_s") is not None]
        fails = Counter(r["failure"] for r in recs if r.get("failure"))
        evals = [r.get("eval_cost_usd", 0.0) for r in recs]  # absent without a judge: 0
        rows.append(
            {
                "config": name,
                "n": len(recs),
                "scored": len(scored),
                "accuracy": float(np.mean(values)) if values else None,
                "cost_per_request": float(np.mean(costs))
                if costs and len(costs) == len(basis)
                else None,
                "p50_latency_s": quantile(lat, 0.5),
                "p95_latency_s": quantile(lat, 0.95),
                "failures": dict(fails.most_common()),
                # the judge's cost per request, apart from the serving cost above
                "eval_cost_per_request": float(np.mean(evals))
                if evals and None not in evals
                else None,
            }
        )
    return rows
