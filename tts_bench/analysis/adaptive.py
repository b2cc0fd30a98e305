"""Offline replay of adaptive stopping rules on fixed pools, averaged over random orders.

Each rule (analysis/stopping.py, the same function the live `adaptive_consistency` strategy
calls) reads an item's samples one at a time, as a sequential sampler would, and stops
early; the answer is the majority of the samples read so far (random tie-break, as expected
credit). A pool's stored order is one arbitrary order among K!, so, as the ESC paper does,
every item is replayed under `orders` random orders of its samples (seeded) and its stop
point and credit are averaged over them. The figures are means over items of these
order-averaged values; their intervals resample items (studentized bootstrap over the run's
shared weight matrix, so strata and clusters are kept).

Rules and knobs: `esc` windows `ESC_WINDOWS`, `beta` thresholds `BETA_THRESHOLDS`, `share`
thresholds `SHARE_THRESHOLDS`; `beta` and `share` also stop after `ABSTAIN_WINDOW`
abstentions in a row. Every rule stops at the pool size K at the latest. For `set_vote`
pools the rules read whole-set agreement and the answer is the strategy's per-element vote of
the samples read (`Pools.prefix`), known only in the stored order: those are replayed in the
stored order alone (`orders: 0`).
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from tts_bench.analysis.curves import Pools
from tts_bench.analysis.figures import fnum
from tts_bench.analysis.stats import mean_interval, paired_interval
from tts_bench.analysis.stopping import MIN_SHARE_SAMPLES, Tally, beta_prob, stops, tally

__all__ = ["MIN_SHARE_SAMPLES", "beta_prob", "replay"]

ESC_WINDOWS = (2, 3, 4, 5, 8)
BETA_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)
SHARE_THRESHOLDS = (0.6, 0.7, 0.8, 1.0)
ABSTAIN_WINDOW = 5  # the live strategy's default `window`
ORDERS = 100  # random orders per item (as in the ESC paper) ...
# ... up to this many item-orders in all: past 200 items, fewer orders per item (never under
# MIN_ORDERS) keep the replay's cost flat while the order noise in the mean over items stays
# far below the interval's width (it shrinks with the items as well)
ORDER_BUDGET = 20_000
MIN_ORDERS = 20
CHUNK_ROWS = 20000  # pools replayed per vectorised pass (memory: rows x K x classes)


def _encode(pools: Pools) -> tuple[np.ndarray, np.ndarray]:
    """Class ids (items, K), -1 = no answer, numbered per item in first-seen order, and class
    values (items, classes): the value of the class's last sample."""
    idx = np.flatnonzero(pools.mask)
    k = pools.k
    rows = [pools.answers[i][:k] for i in idx]
    flat = list(chain.from_iterable(r if len(r) == k else r + [None] * (k - len(r)) for r in rows))
    # one run-wide number per distinct answer (dict equality, as a per-item dict would see it)
    number = {a: g for g, a in enumerate(dict.fromkeys(flat))}
    number[None] = -1
    gid = np.fromiter(map(number.__getitem__, flat), dtype=np.int64, count=len(flat))
    gid = gid.reshape(idx.size, k)
    ids = np.empty((idx.size, k), dtype=_id_dtype(k))
    vals = np.zeros((idx.size, k))
    step = np.arange(k)
    chunk = max(1, (1 << 22) // max(k * k, 1))  # bounds the (rows, K, K) comparison
    for lo in range(0, idx.size, chunk):
        g = gid[lo : lo + chunk]
        answered = g >= 0
        same = g[:, :, None] == g[:, None, :]
        first = same.argmax(axis=2)  # each sample's first sample of the same answer
        new = (first == step) & answered
        cid = np.where(answered, np.take_along_axis(np.cumsum(new, axis=1) - 1, first, 1), -1)
        ids[lo : lo + chunk] = cid
        # a class's value is written by its last sample (as a per-sample loop would)
        last = (k - 1) - same[:, :, ::-1].argmax(axis=2)
        r, j = np.nonzero((last == step) & answered)
        vals[lo + r, cid[r, j]] = pools.values[idx[lo + r], j]
    return ids, vals


def _id_dtype(k: int) -> type[np.signedinteger]:
    """The narrowest integer type holding class ids below k and -1: less memory to permute
    and compare."""
    return np.int8 if k < 128 else np.int16 if k < 1 << 15 else np.int64


def _credit_table(tl: Tally, cls_val: np.ndarray) -> np.ndarray:
    """(items, t) expected credit of a random tie-break among the leading answers after each
    prefix: every rule's stop reads it, so it is computed once per tally."""
    counts = tl.counts  # (items, t, classes)
    classes = counts.shape[2]
    if classes >= 8:  # numpy sums 8 or more terms pairwise: keep its order
        v1 = tl.v1[:, :, None]
        tied = (counts == v1) & (v1 > 0)
        won = (tied * cls_val[:, None, :classes]).sum(axis=2)
        return won / np.maximum(tied.sum(axis=2), 1)
    # fewer terms numpy sums left to right from 0.0: the same sum, one class at a time
    won = np.zeros(tl.v1.shape)
    n_tied = np.zeros(tl.v1.shape, dtype=np.int64)
    for c in range(classes):
        tied = (counts[:, :, c] == tl.v1) & tl.voted
        won += tied * cls_val[:, c, None]
        n_tied += tied
    return won / np.maximum(n_tied, 1)


def _knobs(k: int) -> list[tuple[str, str, float]]:
    out = [("esc", "window", float(w)) for w in ESC_WINDOWS if w < k]
    out += [("beta", "threshold", t) for t in BETA_THRESHOLDS]
    return out + [("share", "threshold", t) for t in SHARE_THRESHOLDS]


def _one_order(
    ids: np.ndarray, credit: np.ndarray | None, cls_val: np.ndarray, knobs: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(knobs, items) samples read and credit at the stop, for one order of every pool, and
    the (items, t) credit after each prefix (`credit` when given)."""
    tl = tally(ids)
    n = ids.shape[0]
    if credit is None:
        credit = _credit_table(tl, cls_val)
    rows = np.arange(n)
    used = np.empty((len(knobs), n))
    got = np.empty((len(knobs), n))
    for j, (rule, _, value) in enumerate(knobs):
        stop = stops(rule, value, tl, ABSTAIN_WINDOW)
        stop[:, -1] = True
        at = stop.argmax(axis=1)
        used[j] = at + 1
        got[j] = credit[rows, at]
    return used, got, credit


def replay(
    pools: Pools,
    *,
    orders: int = ORDERS,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """Per rule and knob: mean samples read and accuracy, averaged over `orders` random
    orders per item (0: the stored order only; at most ORDER_BUDGET item-orders in all, at
    least MIN_ORDERS per item), each with a `confidence` interval over items;
    `accuracy_full` is the strategy's vote of the full K-sample pool on the same items and
    `delta_points` the paired difference; `in_pool_order` gives the stored order's figures.

    seed: seeds the orders. The intervals are score intervals over items (Wilson for accuracy
    and, rescaled, for mean samples; Tango for the paired difference): order-averaged values
    pile up at their bounds, where a bootstrap of the mean under-covers."""
    ids, cls_val = _encode(pools)
    n, k = ids.shape
    if n == 0:
        return []
    knobs = _knobs(k)
    stored_credit = None
    if pools.prefix is not None:  # set_vote: the per-element vote of the samples read so far
        stored_credit = pools.prefix[pools.mask][:, :k]
        orders = 0
    used0, got0, credit0 = _one_order(ids, stored_credit, cls_val, knobs)
    full = credit0[:, -1]  # the vote of the whole pool
    if orders > 0:
        orders = min(orders, max(MIN_ORDERS, ORDER_BUDGET // n))
        rng = np.random.default_rng(seed)
        used = np.zeros_like(used0)
        got = np.zeros_like(got0)
        chunk = max(1, min(orders, CHUNK_ROWS // n))  # orders stacked per vectorised pass
        for start in range(0, orders, chunk):
            c = min(chunk, orders - start)
            perm = np.argsort(rng.random((c * n, k)), axis=1)
            stacked = np.take_along_axis(np.tile(ids, (c, 1)), perm, axis=1)
            u, g, _ = _one_order(stacked, None, np.tile(cls_val, (c, 1)), knobs)
            used += u.reshape(len(knobs), c, n).sum(axis=1)
            got += g.reshape(len(knobs), c, n).sum(axis=1)
        used /= orders
        got /= orders
    else:
        used, got = used0, got0
    out = []
    for j, (rule, name, value) in enumerate(knobs):
        mean_used = float(used[j].mean())
        out.append(
            {
                "rule": rule,
                name: int(value) if rule == "esc" else value,
                "mean_samples": mean_used,
                "mean_samples_ci": _bounded_ci(used[j], k, confidence),
                "samples_saved_share": fnum(1 - mean_used / k),
                "accuracy": float(got[j].mean()),
                "accuracy_ci": _score_ci(mean_interval(got[j], confidence=confidence)),
                "accuracy_full": float(full.mean()),
                "delta_points": 100 * float((got[j] - full).mean()),
                "delta_points_ci": _score_ci(
                    paired_interval(got[j] - full, confidence=confidence), 100.0
                ),
                "orders": orders,
                "abstain_window": None if rule == "esc" else ABSTAIN_WINDOW,
                "in_pool_order": {
                    "mean_samples": float(used0[j].mean()),
                    "accuracy": float(got0[j].mean()),
                },
            }
        )
    return out


def _score_ci(interval: tuple[float | None, float | None, str], scale: float = 1.0) -> list[Any]:
    """A score interval's bounds, scaled. Accuracy and its gap to the full pool are means of
    values in [0, 1] and [-1, 1] that pile up at the bounds, where a studentized bootstrap
    under-covers badly; the score intervals of `stats` do not."""
    lo, hi, _ = interval
    return [fnum(None if lo is None else scale * lo), fnum(None if hi is None else scale * hi)]


def _bounded_ci(x: np.ndarray, k: int, confidence: float) -> list[Any]:
    """Interval of the mean of samples read, a value between the rule's earliest stop and K:
    Wilson on the values rescaled to [0, 1] (conservative, like F1). Most items stop at the
    earliest point, so a bootstrap of this mean under-covers (85-92% at 30:1 odds)."""
    floor = float(x.min())
    span = k - floor
    if span <= 0:
        return [fnum(float(k)), fnum(float(k))]
    lo, hi, _ = mean_interval((x - floor) / span, confidence=confidence)
    return [fnum(None if lo is None else floor + span * lo),
            fnum(None if hi is None else floor + span * hi)]  # fmt: skip
