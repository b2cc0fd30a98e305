"""Per-item curves over N from each config's sample pool, for every k = 1..K.

A pool is the record's `samples` list. Voting identity is the scorer's answer key (the same
one the strategies vote on), so distinct wrong answers stay apart. A sample without an answer
(nothing extractable, or an infrastructure-failed sample) abstains, as in the strategies.

When pool sizes differ between items (a failed pair, a changed suite), every item uses its
first K samples, K the smallest pool: samples are exchangeable draws, so that is unbiased.
Expected cost at k is k x the pool's mean sample cost plus the record's fixed (non-sample)
cost; expected latency is E[max of k sample latencies] plus the record's fixed sequential
latency (critical path minus the slowest sample)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tts_bench.analysis.estimators import NoneMode, best_of_k, majority_at_k, max_weights
from tts_bench.analysis.load import RunData


@dataclass
class Pools:
    """One config's per-item curves, shape (items, K); rows of items without a pool are NaN."""

    k: int
    sizes: tuple[int, int]  # smallest and largest pool seen
    mask: np.ndarray  # items with a usable pool and a scored record
    majority: np.ndarray
    pass_at_k: np.ndarray
    best_of_k: np.ndarray | None  # only when the samples carry selector scores
    cost: np.ndarray | None  # NaN rows where a cost is unknown; None when no cost is known
    latency: np.ndarray
    answers: list[list[Any]]  # vote keys per item (first K samples), for the adaptive replay
    values: np.ndarray  # (items, K) the scorer's value per sample (0 for no answer)


def _key_fn(data: RunData) -> Callable[[Any], Any]:
    try:
        from tts_bench.scoring import make_scorer

        scorer = make_scorer(data.scorer)

        def key(a: Any) -> Any:
            return scorer.key(a if isinstance(a, str) else ",".join(map(str, a)))

        key("1")
        return key
    except Exception:  # no scorer available: identity on the stored canonical answer
        return lambda a: tuple(a) if isinstance(a, list) else a


def _sample_value(s: dict[str, Any], metric: str) -> float:
    if s.get("status", "ok") != "ok" or s.get("answer") is None:
        return 0.0
    v = s.get("value") if metric == "f1" else s.get("correct")
    if v is None:
        v = s.get("correct")
    return float(v) if v is not None else 0.0


def build_pools(data: RunData, c: int, none: NoneMode = "abstain") -> Pools | None:
    """Per-item exact curves for config index c, or None when it kept no pools."""
    recs = data.records[c]
    sizes = [len(r["samples"]) for r in recs if r and r.get("samples")]
    if not sizes:
        return None
    k_max = min(sizes)
    n = len(data.items)
    key = _key_fn(data)
    nan = np.full((n, k_max), np.nan)
    maj, pas, lat = nan.copy(), nan.copy(), nan.copy()
    best = nan.copy()
    cost = nan.copy()
    values = np.zeros((n, k_max))
    mask = np.zeros(n, dtype=bool)
    answers: list[list[Any]] = [[] for _ in range(n)]
    has_scores = False
    wmax = max_weights(k_max)
    for i, r in enumerate(recs):
        if not r or not r.get("samples") or not data.scored[c, i]:
            continue
        full = r["samples"]
        pool = full[:k_max]
        mask[i] = True
        vals = np.array([_sample_value(s, data.metric) for s in pool])
        keys = [
            key(s["answer"])
            if s.get("status", "ok") == "ok" and s.get("answer") is not None
            else None
            for s in pool
        ]
        answers[i], values[i] = keys, vals
        maj[i] = majority_at_k(keys, vals, none=none)
        pas[i] = wmax @ np.sort(vals)  # E[max value]: pass@k for 0/1, oracle for F1
        scores = [s.get("score") for s in pool]
        if any(sc is not None for sc in scores):
            has_scores = True
            best[i] = best_of_k(scores, vals)
        s_lat = np.array([float(s.get("latency_s") or 0.0) for s in full])
        fixed_lat = max(0.0, float(r.get("latency_s") or 0.0) - float(s_lat.max()))
        lat[i] = wmax @ np.sort(s_lat[:k_max]) + fixed_lat
        s_cost = [s.get("cost_usd") for s in full]
        if r.get("cost_usd") is not None and all(x is not None for x in s_cost):
            fixed = max(0.0, float(r["cost_usd"]) - float(sum(s_cost)))
            mean_cost = float(np.mean(s_cost[:k_max]))
            cost[i] = mean_cost * np.arange(1, k_max + 1) + fixed
    return Pools(
        k=k_max,
        sizes=(min(sizes), max(sizes)),
        mask=mask,
        majority=maj,
        pass_at_k=pas,
        best_of_k=best if has_scores else None,
        cost=cost if (~np.isnan(cost[mask])).any() else None,
        latency=lat,
        answers=answers,
        values=values,
    )
