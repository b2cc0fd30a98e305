"""What a run's pools cost as drawn, and what the same pools would have cost drawn the other
way: one request of n per pool (`pool_request: n`) against one request per sample
(`separate`), llm/pooling.py.

Computed from the records alone (their `info.pool_request` and per-sample tokens and cost)
and the rates of the run's own price table (the manifest's suite `pricing:` and simulator
profiles, then litellm's map): never invented. A sample's prompt cost is its recorded cost
minus its completion tokens at the output and reasoning rates, so cache reads and writes
count as they were billed.
- drawn as `n`: the first choice of a request carried the prompt; drawn separately, every
  other choice would pay the same prompt again;
- drawn `separate`: every sample paid its prompt; as one request only the first would.
Records without a pool (single calls, search trees) cost the same either way; batch-mode
records (priced at batch rates) are left out. A pool whose
model's API has no `n` (Anthropic, Gemini, Bedrock) cannot be pooled: its other-mode cost is
null, as is any figure whose price or cost is unknown.
"""

from __future__ import annotations

import math
from typing import Any


def _rates(manifest: dict[str, Any]) -> Any:
    from tts_bench.llm.pricing import PriceTable

    suite = manifest.get("suite") or {}
    return PriceTable(suite.get("pricing") or None, suite.get("sim_profiles") or None)


def _completion_cost(sample: dict[str, Any], rate: Any) -> float:
    from tts_bench.llm.pricing import cost_usd
    from tts_bench.llm.types import Usage

    usage = Usage(
        output_tokens=int(sample.get("output_tokens") or 0),
        reasoning_tokens=int(sample.get("reasoning_tokens") or 0),
    )
    return cost_usd(usage, rate) or 0.0


def _other(rec: dict[str, Any], mode: str, rate: Any) -> float | None:
    """The record's cost had its pool been drawn the other way; None when unknown."""
    cost = rec.get("cost_usd")
    samples = [s for s in rec.get("samples") or [] if s.get("status", "ok") == "ok"]
    if cost is None or rate is None or any(s.get("cost_usd") is None for s in samples):
        return None
    if not samples:
        return float(cost)
    prompts = [s["cost_usd"] - _completion_cost(s, rate) for s in samples]
    if mode == "n":  # the choices that carried no prompt would each pay the first one's
        paid = max(range(len(samples)), key=lambda k: samples[k].get("input_tokens") or 0)
        unpaid = sum(1 for s in samples if not s.get("input_tokens"))
        return float(cost) + unpaid * max(prompts[paid], 0.0)
    return float(cost) - math.fsum(max(p, 0.0) for p in prompts[1:])


def pool_costs(records: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, Any]:
    """{config: {"pool_request", "cost_usd", "other_mode", "other_cost_usd"}} for each
    config with pools; pool_request: "n", "separate" or "mixed" (a resume drew some pools
    the other way: no other-mode figure); other_cost_usd null when a price is unknown."""
    from tts_bench.llm.pooling import pool_mode
    from tts_bench.llm.types import ModelSpec

    prices = _rates(manifest)
    by: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        info = (r or {}).get("info") or {}
        # a batch-mode record was priced at batch rates: not this comparison's
        if info.get("pool_request") in ("n", "separate") and not info.get("batch"):
            by.setdefault(r["config"], []).append(r)
    out: dict[str, Any] = {}
    for config, recs in by.items():
        modes = {r["info"]["pool_request"] for r in recs}
        mode = modes.pop() if len(modes) == 1 else "mixed"
        costs = [r.get("cost_usd") for r in recs]
        total = None if any(c is None for c in costs) else math.fsum(costs)  # type: ignore[arg-type]
        model = str(recs[0].get("model") or "")
        other: float | None = None
        # the other way must exist: a separately drawn pool of an API without `n` has none
        possible = mode == "n" or pool_mode(ModelSpec(model, pool_request="n"), "litellm") == "n"
        if mode != "mixed" and possible:
            rate = prices.rate(model)
            figures = [_other(r, mode, rate) for r in recs]
            other = None if any(f is None for f in figures) else math.fsum(figures)  # type: ignore[arg-type]
        out[config] = {
            "pool_request": mode,
            "cost_usd": total,
            # null: no other way (an API without `n`, or pools drawn both ways)
            "other_mode": {"n": "separate", "separate": "n"}.get(mode) if possible else None,
            "other_cost_usd": other,
        }
    return out
