"""Paired delta of one config between two runs (a reference and a new run), paired on the item
ids both ran, the figures `tts-bench compare` shows and `gate --against` judges.

On the common items, new − reference: the scorer's value (`score` when the record has one,
else `correct` as 1/0; unscored records left out) as a delta in **points** with a CI (Tango's
paired score interval when every paired value is 0/1, scaled to the differences' size for F1: `stats.paired_interval`) and a
p-value (exact McNemar when every paired value is 0/1, else Wilcoxon signed-rank); the ratio
of mean costs (items whose cost is known in both) with a studentized log-ratio bootstrap CI;
the P95 latency ratio with a percentile bootstrap CI, null (value and CI) when any common
item's latency is unknown in either run, as in the analysis. Every bootstrap reads one weight
matrix over the common items, drawn within strata (`strata_labels`: the analysis' rule
applied to the reference's records). Knobs: `resamples` (10,000), `seed` (0), `confidence`
(0.95), `strata`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tts_bench.analysis.bootstrap import (
    MeanBatch,
    add_ratio,
    counts_matrix,
    percentile_ci,
    ratio_ci,
    weighted_quantiles,
)
from tts_bench.analysis.stats import mcnemar_exact, paired_interval, quantile

Record = Mapping[str, Any]

KEYS = (
    "acc_a",
    "acc_b",
    "delta",
    "delta_lo",
    "delta_hi",
    "test",
    "p_value",
    "cost_ratio",
    "cost_ratio_lo",
    "cost_ratio_hi",
    "p95_a",
    "p95_b",
    "p95_ratio",
    "p95_ratio_lo",
    "p95_ratio_hi",
)


def _num(x: Any) -> float:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else math.nan


def scorer_value(r: Record) -> float:
    """The record's scorer value: `score` (F1 for set answers) when present, else `correct`
    as 1/0; NaN when unscored (`correct` null)."""
    if r.get("correct") is None:
        return math.nan
    s = _num(r.get("score"))
    return s if not math.isnan(s) else float(bool(r["correct"]))


def strata_labels(
    ref: Mapping[str, Record], new: Mapping[str, Record], by: Sequence[str] = ()
) -> dict[str, str] | None:
    """Resampling strata of the common items, from the reference's records, by the analysis'
    rule (`analysis.summary.resample_strata`): the columns `by` (the suite's
    `dataset.sample.by`) when the records have them, else every strata column, combined; if a
    cell has fewer than 2 common items, the first column alone; if that too, None."""
    ids = sorted(set(ref) & set(new))
    rows = [ref[i].get("strata") or {} for i in ids]
    cols_all = list(dict.fromkeys(str(c) for s in rows for c in s))
    cols = [c for c in by if c in cols_all] or cols_all
    for cand in (cols, cols[:1]):
        if not cand or not ids:
            break
        labels = ["|".join(str(s.get(c, "")) for c in cand) for s in rows]
        if min(Counter(labels).values()) >= 2:
            return dict(zip(ids, labels, strict=True))
    return None


def p_value(ref: np.ndarray, new: np.ndarray) -> tuple[str, float]:
    """(test, two-sided p) of paired values: exact McNemar on the discordant pairs when every
    value is 0/1, else Wilcoxon signed-rank on the non-zero differences (1.0 when none)."""
    d = new - ref
    if np.isin(ref, (0.0, 1.0)).all() and np.isin(new, (0.0, 1.0)).all():
        return "mcnemar_exact", mcnemar_exact(int((d < 0).sum()), int((d > 0).sum()))
    nz = d[d != 0]
    if nz.size == 0:
        return "wilcoxon", 1.0
    from scipy.stats import wilcoxon

    return "wilcoxon", float(wilcoxon(nz).pvalue)


def paired_delta(
    ref: Mapping[str, Record],
    new: Mapping[str, Record],
    *,
    strata: Mapping[str, object] | None = None,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    counts: dict[Any, np.ndarray] | None = None,
) -> dict[str, Any]:
    """New vs reference for one config, records keyed by item id, paired on the common ids.
    `strata`: a label per item id (None: no stratification; see `strata_labels`); `counts`: a
    cache of bootstrap counts, shared by the configs of two runs (the same common items, seed
    and strata draw the same matrix: it is drawn once and kept there, the last one only).

    Returns n_common; n_paired (scored in both), acc_a / acc_b (reference / new mean value),
    delta (points), delta_lo, delta_hi, test, p_value; n_cost (cost known in both),
    n_cost_unknown, cost_ratio (new / reference mean cost), cost_ratio_lo, cost_ratio_hi;
    n_latency_unknown, p95_a, p95_b, p95_ratio (new / reference), p95_ratio_lo,
    p95_ratio_hi. Figures that cannot be computed are None."""
    ids = sorted(set(ref) & set(new))
    ra, rb = [ref[i] for i in ids], [new[i] for i in ids]
    labels = None if strata is None else [strata[i] for i in ids]
    w = None
    if counts is not None and ids:
        key = (tuple(ids), resamples, seed, None if labels is None else tuple(labels))
        if key not in counts:
            counts.clear()  # one matrix at a time: configs of two runs share their items
            counts[key] = counts_matrix(len(ids), resamples=resamples, seed=seed, strata=labels)
        w = counts[key]

    def col(rows: list[Record], get: Any) -> np.ndarray:
        return np.array([get(r) for r in rows], dtype=float)

    out = paired_arrays(
        (col(ra, scorer_value), col(rb, scorer_value)),
        (col(ra, lambda r: _num(r.get("cost_usd"))), col(rb, lambda r: _num(r.get("cost_usd")))),
        (col(ra, lambda r: _num(r.get("latency_s"))), col(rb, lambda r: _num(r.get("latency_s")))),
        strata=labels,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        w=w,
    )
    return {"n_common": len(ids), **out}


def paired_arrays(
    value: tuple[np.ndarray, np.ndarray],
    cost: tuple[np.ndarray, np.ndarray],
    latency: tuple[np.ndarray, np.ndarray],
    *,
    strata: Sequence[object] | None = None,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    w: np.ndarray | None = None,
) -> dict[str, Any]:
    """`paired_delta` on aligned arrays, each a (reference, new) pair over the same items
    (NaN: unscored / unknown). One weight matrix for every CI (`w`: the counts already drawn
    for these items, resamples, seed and strata; None draws them); a mean over the items in
    a mask is read off it as a ratio of resampled sums."""
    va, vb = (np.asarray(x, dtype=float) for x in value)
    ca, cb = (np.asarray(x, dtype=float) for x in cost)
    la, lb = (np.asarray(x, dtype=float) for x in latency)
    out: dict[str, Any] = {"n_paired": 0, "n_cost": 0, "n_cost_unknown": 0}
    out.update(dict.fromkeys(KEYS))
    out["n_latency_unknown"] = int((np.isnan(la) | np.isnan(lb)).sum())
    if va.size == 0:
        return out
    if w is None:
        w = counts_matrix(va.size, resamples=resamples, seed=seed, strata=strata)
    pair = ~np.isnan(va) & ~np.isnan(vb)
    known = ~np.isnan(ca) & ~np.isnan(cb)
    batch = MeanBatch(w)
    j_cost = add_ratio(batch, cb, ca, known)
    res = batch.run()
    d = (vb - va)[pair]
    sum_a = float(ca[known].sum())
    out.update(
        n_paired=int(pair.sum()), n_cost=int(known.sum()), n_cost_unknown=int((~known).sum())
    )
    if d.size:
        test, p = p_value(va[pair], vb[pair])
        lo, hi, _ = paired_interval(d, None, confidence)
        out.update(
            acc_a=float(va[pair].mean()),
            acc_b=float(vb[pair].mean()),
            delta=float(100 * d.mean()),
            delta_lo=100 * lo,
            delta_hi=100 * hi,
            test=test,
            p_value=p,
        )
    if known.any() and sum_a:
        lo, hi = ratio_ci(res, j_cost, cb, ca, known, confidence)
        out.update(cost_ratio=float(cb[known].sum() / sum_a), cost_ratio_lo=lo, cost_ratio_hi=hi)
    if out["n_latency_unknown"] == 0:
        out.update(_p95_ratio(w, la, lb, confidence))
    return out


def _p95_ratio(w: np.ndarray, la: np.ndarray, lb: np.ndarray, confidence: float) -> dict[str, Any]:
    """P95 of each run, their ratio (new / reference) and its CI from the weighted order
    statistics of every resample; a resample whose reference P95 is 0 is undefined."""
    qa = weighted_quantiles(w, la, [0.95])[:, 0]
    qb = weighted_quantiles(w, lb, [0.95])[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = qb / qa
    ratio[~np.isfinite(ratio)] = np.nan
    lo, hi = percentile_ci(ratio, confidence)
    pa, pb = quantile(la, 0.95), quantile(lb, 0.95)
    return {
        "p95_a": pa,
        "p95_b": pb,
        "p95_ratio": pb / pa if pa and pb is not None else None,
        "p95_ratio_lo": lo,
        "p95_ratio_hi": hi,
    }
