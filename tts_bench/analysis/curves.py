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
from math import isnan
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
    scored = data.scored[c].tolist()  # plain bools: no numpy scalar per item
    return [i for i, r in enumerate(data.records[c]) if r and r.get("samples") and scored[i]]


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


_NOTHING = object()  # a missing memo entry
_NAN = float("nan")


def _memo_key(key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`key` remembered per text answer in a plain dict: pools repeat a handful of answers
    many times, and a dict lookup is far cheaper than the call."""
    known: dict[str, Any] = {}

    def key_of(a: Any) -> Any:
        if a.__class__ is not str:  # set answers (lists) are not hashable
            return key(a)
        got = known.get(a, _NOTHING)
        if got is _NOTHING:
            got = known[a] = key(a)
        return got

    return key_of


def _votes(
    head: list[dict[str, Any]], key_of: Callable[[Any], Any], value_field: str, none: NoneMode
) -> tuple[list[Any], list[float], np.ndarray]:
    """Vote keys (None: no answer), values and the exact majority curve of one pool's first K
    samples. value_field: the sample's value field (`correct` falls in when it is missing);
    none: how non-answers vote (see estimators)."""
    keys: list[Any] = []
    vals: list[float] = []
    for s in head:
        a = s.get("answer")
        if a is None or s.get("status", "ok") != "ok":
            keys.append(None)
            vals.append(0.0)
            continue
        keys.append(key_of(a))
        x = s.get(value_field)
        if x is None:
            x = s.get("correct")
        vals.append(float(x) if x is not None else 0.0)
    return keys, vals, majority_at_k(keys, vals, none=none)


def _latency_and_cost(
    r: dict[str, Any], full: list[dict[str, Any]], k_max: int, judged: bool
) -> tuple[list[float], float, float, float]:
    """One pooled record's sample latencies (first k_max, NaN when unknown), fixed latency,
    mean sample cost and fixed cost (NaN when unknown). judged: a judge call is paid per
    sample, so the record's whole cost scales with k."""
    s_lat = [_NAN if x is None else float(x) for x in [s.get("latency_s") for s in full]]
    rec_lat = r.get("latency_s")
    # unknown latency (e.g. an imported pool without timings) stays NaN, never 0: the
    # slowest is NaN when any sample's latency is unknown
    slowest = _NAN if any(map(isnan, s_lat)) else max(s_lat)
    fixed_lat = _NAN if rec_lat is None else max(0.0, float(rec_lat) - slowest)
    rec_cost = r.get("cost_usd")
    if rec_cost is not None and judged:
        return s_lat[:k_max], fixed_lat, float(rec_cost) / len(full), 0.0
    s_cost = [s.get("cost_usd") for s in full]
    if rec_cost is not None and None not in s_cost:
        # Python's left-to-right sums, as the costs were always added
        mean_cost = float(sum(s_cost[:k_max])) / k_max
        return s_lat[:k_max], fixed_lat, mean_cost, max(0.0, float(rec_cost) - float(sum(s_cost)))
    return s_lat[:k_max], fixed_lat, _NAN, _NAN


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
    used = _pooled(data, c)
    sizes = [len(recs[i]["samples"]) for i in used]  # type: ignore[index]
    if not sizes:
        return None
    k_max = min(sizes)
    n = len(data.items)
    key = _key_fn(data)
    voter = None
    sv = np.full((n, k_max), np.nan)  # set_vote only: the per-element vote curve
    prefix = np.full((n, k_max), np.nan)  # and its value after the first t samples
    sampled: set[int] = set()
    if strategy == "set_vote":
        from tts_bench.analysis.setvote import SetVoter
        from tts_bench.scoring import make_scorer

        voter = SetVoter(make_scorer(data.scorer), spec)
    # a sample's value is its F1 `value` under the F1 metric, else (or when missing) `correct`
    value_field = "value" if data.metric == "f1" else "correct"
    key_of = _memo_key(key)
    answers: list[list[Any]] = [[] for _ in range(n)]
    # per pooled item, in the order of `used`: filled row by row, assigned to arrays once
    value_rows: list[list[float]] = []
    maj_rows: list[np.ndarray] = []
    score_rows: list[tuple[int, list[float]]] = []
    sample_parts: list[tuple[list[float], float, float, float]] = []
    for row, i in enumerate(used):
        r = recs[i]
        full = r["samples"]  # type: ignore[index]
        head = full[:k_max]
        answers[i], vals, curve = _votes(head, key_of, value_field, none)
        value_rows.append(vals)
        maj_rows.append(curve)
        raw_scores = [s.get("score") for s in head]
        if raw_scores.count(None) < k_max:
            score_rows.append((row, [-np.inf if x is None else float(x) for x in raw_scores]))
        if voter is not None:
            raw = [s.get("answer") if s.get("status", "ok") == "ok" else None for s in head]
            sv[i], prefix[i], got = voter.curves(raw, r.get("target"), data.items[i])
            sampled.update(got)
        sample_parts.append(_latency_and_cost(r, full, k_max, judged))  # type: ignore[arg-type]
    mask = np.zeros(n, dtype=bool)
    mask[used] = True
    values = np.zeros((n, k_max))
    values[used] = value_rows
    has_scores = bool(score_rows)
    scores = np.full((n, k_max), -np.inf)
    if has_scores:
        scores[[used[row] for row, _ in score_rows]] = [got for _, got in score_rows]
    maj = np.full((n, k_max), np.nan)
    maj[used] = maj_rows
    lat_rows, fixed_lat_of, mean_cost_of, fixed_cost_of = zip(*sample_parts, strict=True)
    lat = np.zeros((n, k_max))
    lat[used] = lat_rows
    fixed_lat = np.zeros(n)
    fixed_lat[used] = fixed_lat_of
    mean_cost = np.full(n, np.nan)
    mean_cost[used] = mean_cost_of
    fixed_cost = np.full(n, np.nan)
    fixed_cost[used] = fixed_cost_of
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
