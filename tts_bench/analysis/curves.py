"""Per-item curves over N from each config's sample pool, for every k = 1..K.

A pool is the record's `samples` list. Voting identity is the scorer's answer key (the same
one the strategies vote on), so distinct wrong answers stay apart. A sample without an answer
(nothing extractable, or an infrastructure-failed sample) abstains, as in the strategies.

When pool sizes differ between items (only an imported pool, imported with mixed sizes on
request, gets curves then), every item uses its first K samples, K the smallest pool: samples
are independent draws, so that is unbiased.
Expected cost at k is k x the pool's mean sample cost plus the record's fixed (non-sample)
cost; expected latency is E[max of k sample latencies] plus the record's fixed sequential
latency (critical path minus the slowest sample), unknown (NaN) when the record or any sample
has no latency. For judged pools the fixed part holds roughly one judge call, so the curve is
E[max sample latency] + a constant, not E[max(sample + its judge)] (records keep no per-sample
judge latency).

`set_vote` pools also get the strategy's own per-element vote curve (analysis/setvote.py).
Curves are `withheld` (no curves, no adaptive replay, a note saying why) for a `router`
config (its records carry the pool of whichever config each item went to), an
`adaptive_consistency` config (pools stopped early by its own rule), any other non-imported
config whose pool sizes vary, and pools over fewer items than the config scored: each would
describe something other than the config as run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tts_bench.analysis.estimators import NoneMode, majority_at_k, max_weights
from tts_bench.analysis.load import RunData

# strategies whose `n` knob is the pool size, so a pool read at N is that strategy at n: N
# (imported pools are voted like self_consistency)
N_IS_POOL_SIZE = frozenset({"self_consistency", "best_of_n", "set_vote", "imported"})


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
    latency: np.ndarray  # NaN rows where a latency is unknown
    answers: list[list[Any]]  # vote keys per item (first K samples), for the adaptive replay
    values: np.ndarray  # (items, K) the scorer's value per sample (0 for no answer)
    selector: str = "majority"  # the curve describing the strategy: majority|best_of_k|set_vote
    set_vote: np.ndarray | None = None  # per-element vote curve (set_vote configs only)
    prefix: np.ndarray | None = None  # set_vote: value of the vote of the first t samples
    sampled_ks: list[int] | None = None  # set_vote: k whose subsets were sampled, not enumerated


def _key_fn(data: RunData) -> Callable[[Any], Any]:
    from pydantic import ValidationError

    from tts_bench.errors import UserError
    from tts_bench.scoring import make_scorer

    try:
        scorer = make_scorer(data.scorer)

        @lru_cache(maxsize=65536)  # pools repeat a handful of answers many times
        def key_str(a: str) -> str:
            return scorer.key(a)

        def key(a: Any) -> Any:
            return key_str(a if isinstance(a, str) else ",".join(map(str, a)))

        key("1")
        return key
    except (UserError, ValidationError):  # no usable scorer: identity on the stored answer
        return lambda a: tuple(a) if isinstance(a, list) else a


def _sample_value(s: dict[str, Any], metric: str) -> float:
    if s.get("status", "ok") != "ok" or s.get("answer") is None:
        return 0.0
    v = s.get("value") if metric == "f1" else s.get("correct")
    if v is None:
        v = s.get("correct")
    return float(v) if v is not None else 0.0


def _best_of_k_rows(scores: np.ndarray, values: np.ndarray, wmax: np.ndarray) -> np.ndarray:
    """best_of_k for many pools at once: (items, K) scores (-inf = unscored) and values.
    Values are averaged within each row's tie groups (random tie-break), then weighted by
    P(rank r is the best of a k-subset)."""
    n, k = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    v = np.take_along_axis(values, order, axis=1)
    new_group = np.ones((n, k), dtype=bool)
    new_group[:, 1:] = s[:, 1:] != s[:, :-1]
    gid = (np.cumsum(new_group, axis=1) - 1) + k * np.arange(n)[:, None]
    sums = np.bincount(gid.ravel(), weights=v.ravel(), minlength=n * k)
    cnts = np.bincount(gid.ravel(), minlength=n * k)
    avg = (sums / np.maximum(cnts, 1))[gid]
    return avg @ wmax[:, ::-1].T


def _pooled(data: RunData, c: int) -> list[int]:
    """Item indices whose record under config c is scored and keeps a sample pool."""
    return [
        i for i, r in enumerate(data.records[c]) if r and r.get("samples") and data.scored[c, i]
    ]


def withheld(data: RunData, c: int) -> str | None:
    """Why config c's records keep sample pools but get no curves (None: they get curves, or
    keep no pools at all). A curve must describe the config as run:
    - `router`: its records carry the pool of whichever config each item went to;
    - `adaptive_consistency`: it stops early, so its pools vary in size (up to n_max) and were
      cut by its own stopping rule; a curve over the smallest pool says nothing of the config;
    - any other pool whose size varies, except an imported pool (independent draws made
      elsewhere, mixed sizes only on request: the first K samples of each are unbiased);
    - pools over fewer items than the config scored (a curve over a subset), or none scored."""
    strategy = str(data.config_specs.get(data.configs[c], {}).get("strategy") or "")
    has_pools = any(r and r.get("samples") for r in data.records[c])
    if not has_pools:
        return None
    if strategy == "router":
        return "router: its records carry the pool of the config each item was routed to"
    if strategy == "adaptive_consistency":
        return (
            "adaptive_consistency stops early: its pools vary in size and were cut by its own "
            "stopping rule, so no curve over N or adaptive replay describes it"
        )
    used = _pooled(data, c)
    if not used:
        return "no scored record keeps a sample pool"
    sizes = {len(data.records[c][i]["samples"]) for i in used}  # type: ignore[index]
    if len(sizes) > 1 and strategy != "imported":
        return (
            f"pool sizes vary ({min(sizes)}..{max(sizes)}) under {strategy or 'this strategy'}: "
            "a curve over the smallest pool would not describe the config as run"
        )
    n_scored = int(data.scored[c].sum())
    if len(used) < n_scored:
        return f"pools cover {len(used)} of the {n_scored} scored items: a curve over a subset"
    return None


def build_pools(data: RunData, c: int, none: NoneMode = "abstain") -> Pools | None:
    """Per-item exact curves for config index c, or None when it kept no scored pools or its
    curves are `withheld`. Pools are read up to K, the smallest pool among scored records."""
    spec = data.config_specs.get(data.configs[c], {})
    strategy = str(spec.get("strategy") or "")
    if withheld(data, c) is not None:
        return None
    # a judge call per sample (best_of_n's judge selector, judge-weighted voting) is paid per
    # sample drawn: its cost scales with k instead of being a fixed part of the record
    judged = (strategy == "best_of_n" and spec.get("selector", "judge") == "judge") or (
        spec.get("weighted") == "judge"
    )
    recs = data.records[c]
    sizes = [len(recs[i]["samples"]) for i in _pooled(data, c)]  # type: ignore[index]
    if not sizes:
        return None
    k_max = min(sizes)
    n = len(data.items)
    key = _key_fn(data)
    values = np.zeros((n, k_max))
    scores = np.full((n, k_max), -np.inf)
    lat = np.zeros((n, k_max))
    fixed_lat = np.zeros(n)
    mean_cost = np.full(n, np.nan)
    fixed_cost = np.full(n, np.nan)
    maj = np.full((n, k_max), np.nan)
    mask = np.zeros(n, dtype=bool)
    answers: list[list[Any]] = [[] for _ in range(n)]
    has_scores = False
    voter = None
    sv = np.full((n, k_max), np.nan)  # set_vote only: the per-element vote curve
    prefix = np.full((n, k_max), np.nan)  # and its value after the first t samples
    sampled: set[int] = set()
    if strategy == "set_vote":
        from tts_bench.analysis.setvote import SetVoter
        from tts_bench.scoring import make_scorer

        voter = SetVoter(make_scorer(data.scorer), spec)
    metric = data.metric
    for i, r in enumerate(recs):
        if not r or not r.get("samples") or not data.scored[c, i]:
            continue
        full = r["samples"]
        mask[i] = True
        keys: list[Any] = []
        raw: list[Any] = []
        s_lat = []
        for j, s in enumerate(full):
            x = s.get("latency_s")
            s_lat.append(np.nan if x is None else float(x))
            if j >= k_max:
                continue
            ok = s.get("status", "ok") == "ok" and s.get("answer") is not None
            keys.append(key(s["answer"]) if ok else None)
            raw.append(s["answer"] if ok else None)
            values[i, j] = _sample_value(s, metric) if ok else 0.0
            if s.get("score") is not None:
                scores[i, j] = float(s["score"])
                has_scores = True
        answers[i] = keys
        maj[i] = majority_at_k(keys, values[i], none=none)
        if voter is not None:
            sv[i], prefix[i], got = voter.curves(raw, r.get("target"), data.items[i])
            sampled.update(got)
        lat[i] = s_lat[:k_max]
        rec_lat = r.get("latency_s")
        # unknown latency (e.g. an imported pool without timings) stays NaN, never 0:
        # np.max is NaN when any sample's latency is unknown
        slowest = float(np.max(s_lat))
        fixed_lat[i] = np.nan if rec_lat is None else max(0.0, float(rec_lat) - slowest)
        s_cost = [s.get("cost_usd") for s in full]
        if r.get("cost_usd") is not None and judged:
            fixed_cost[i] = 0.0
            mean_cost[i] = float(r["cost_usd"]) / len(full)
        elif r.get("cost_usd") is not None and all(x is not None for x in s_cost):
            fixed_cost[i] = max(0.0, float(r["cost_usd"]) - float(sum(s_cost)))
            mean_cost[i] = float(sum(s_cost[:k_max])) / k_max
    wmax = max_weights(k_max)
    nan_rows = np.where(mask[:, None], 0.0, np.nan)
    ks = np.arange(1, k_max + 1)
    cost = mean_cost[:, None] * ks[None, :] + fixed_cost[:, None]
    return Pools(
        k=k_max,
        sizes=(min(sizes), max(sizes)),
        mask=mask,
        majority=maj,
        # E[max value]: pass@k for 0/1 values, the oracle-verifier curve for F1
        pass_at_k=np.sort(values, axis=1) @ wmax.T + nan_rows,
        best_of_k=_best_of_k_rows(scores, values, wmax) + nan_rows if has_scores else None,
        cost=cost if (~np.isnan(cost[mask])).any() else None,
        latency=np.sort(lat, axis=1) @ wmax.T + fixed_lat[:, None] + nan_rows,
        answers=answers,
        values=values,
        # best_of_n picks the top-scored sample; voting strategies (judge weights included,
        # which no exact curve here models) are described by the plain majority curve
        selector="set_vote"
        if voter is not None
        else "best_of_k"
        if has_scores and strategy in ("best_of_n", "")
        else "majority",
        set_vote=sv + nan_rows if voter is not None else None,
        prefix=prefix if voter is not None else None,
        sampled_ks=sorted(sampled) if voter is not None else None,
    )
