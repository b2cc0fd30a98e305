"""Evaluation cost: what grading the answers cost (the judge scorer's calls), kept apart
from the configs' serving cost.

Read from the records' `eval_cost_usd`, `eval_calls`, `eval_input_tokens` and
`eval_output_tokens` (absent on suites without a judge: 0). Per config: the total, the mean
per request (over its records: a judge_error's calls were paid too), the calls and tokens,
and how many records the judge could not score (`judge_errors`). A total is null when any
record's evaluation cost is unknown: unknown is not $0.
"""

from __future__ import annotations

import math
from typing import Any


def _block(recs: list[dict[str, Any]]) -> dict[str, Any]:
    costs = [r.get("eval_cost_usd", 0.0) for r in recs]
    known = [c for c in costs if c is not None]
    total = math.fsum(known) if len(known) == len(costs) else None
    return {
        "eval_cost_usd": total,
        "eval_cost_per_request": None if total is None or not recs else total / len(recs),
        "eval_calls": sum(int(r.get("eval_calls") or 0) for r in recs),
        "eval_input_tokens": sum(int(r.get("eval_input_tokens") or 0) for r in recs),
        "eval_output_tokens": sum(int(r.get("eval_output_tokens") or 0) for r in recs),
        "judge_errors": sum(1 for r in recs if r.get("status") == "judge_error"),
    }


def eval_costs(records: list[dict[str, Any]], configs: list[str]) -> dict[str, Any]:
    """{"configs": {name: block}, "total": block} over `records` (records.jsonl lines)."""
    by: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for r in records:
        if r is not None and r.get("config") in by:
            by[r["config"]].append(r)
    return {
        "configs": {name: _block(recs) for name, recs in by.items()},
        "total": _block([r for recs in by.values() for r in recs]),
    }


def judged(records: list[dict[str, Any]]) -> bool:
    """Did any record go through the judge scorer?"""
    return any(r is not None and "judge" in (r.get("info") or {}) for r in records) or any(
        r is not None and r.get("eval_calls") for r in records
    )


def eval_cost_text(summary: dict[str, Any]) -> str | None:
    """'$0.1487 (judge: 900 calls, $0.00017 per request)' for a judged run's summary, else
    None. The serving cost is reported apart (the records' `cost_usd`)."""
    meta = summary.get("meta") or {}
    if "total_eval_cost_usd" not in meta:
        return None
    total = meta["total_eval_cost_usd"]
    blocks = [c.get("eval_cost") or {} for c in summary.get("configs") or []]
    calls = sum(b.get("eval_calls") or 0 for b in blocks)
    n = sum(
        (b.get("eval_cost_usd") / b["eval_cost_per_request"])
        if b.get("eval_cost_per_request")
        else 0
        for b in blocks
    )
    if total is None:
        return f"unknown (judge: {calls} calls, a price unknown)"
    per = f", ${total / n:.5f} per request" if n else ""
    return f"${total:.4f} (judge: {calls} calls{per})"
