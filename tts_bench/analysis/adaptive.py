"""Offline replay of adaptive stopping rules on fixed pools, in pool order.

Each rule reads the samples one at a time (as a sequential sampler would) and stops early;
the answer is the majority of the samples read so far (random tie-break, as expected credit).
Rules and their knobs:
- `esc` (early-stopping self-consistency, Li et al. 2024): read windows of `w` samples; stop
  after the first window whose w answers are all the same.
- `beta` (adaptive-consistency, Aggarwal et al. 2023): after each sample, stop when
  P(p1 > p2) >= threshold, with p1, p2 the shares of the two leading answers under a
  Beta(v1 + 1, v2 + 1) posterior, i.e. 1 - I_{1/2}(v1 + 1, v2 + 1).
- `share`: stop once the leading answer holds at least `threshold` of the votes, after at
  least `MIN_SHARE_SAMPLES` samples.
Samples without an answer abstain. Every rule stops at the pool size K at the latest.
For `set_vote` pools the rules still read whole-set agreement, but the answer is the
strategy's per-element vote of the samples read (`Pools.prefix`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_bench.analysis.curves import Pools
from tts_bench.analysis.figures import fnum

ESC_WINDOWS = (2, 3, 4, 5, 8)
BETA_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)
SHARE_THRESHOLDS = (0.6, 0.7, 0.8, 1.0)
MIN_SHARE_SAMPLES = 3


def beta_prob(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """P(p1 > p2) under Beta(v1 + 1, v2 + 1): 1 - I_{1/2}(v1 + 1, v2 + 1), computed as the
    upper incomplete beta so it equals the live strategy's `beta_confidence` to the bit."""
    from scipy.special import betaincc

    return betaincc(np.asarray(v1) + 1.0, np.asarray(v2) + 1.0, 0.5)


def _encode(pools: Pools) -> tuple[np.ndarray, np.ndarray]:
    """Class ids (items, K), -1 = no answer, and class values (items, classes)."""
    idx = np.flatnonzero(pools.mask)
    k = pools.k
    ids = np.full((idx.size, k), -1)
    vals = np.zeros((idx.size, k))
    for row, i in enumerate(idx):
        seen: dict[Any, int] = {}
        for j, a in enumerate(pools.answers[i]):
            if a is None:
                continue
            cid = seen.setdefault(a, len(seen))
            ids[row, j] = cid
            vals[row, cid] = pools.values[i, j]
    return ids, vals


def replay(pools: Pools) -> list[dict[str, Any]]:
    """Mean samples used and accuracy for every rule and knob; `accuracy_full` is the
    strategy's vote (majority, or set_vote's per-element vote) of the full K-sample pool on
    the same items."""
    ids, cls_val = _encode(pools)
    n, k = ids.shape
    if n == 0:
        return []
    onehot = (ids[:, :, None] == np.arange(k)[None, None, :]).astype(np.int32)
    counts = np.cumsum(onehot, axis=1)  # (items, t, classes): votes after t+1 samples
    top = counts.max(axis=2)
    tied = (counts == top[:, :, None]) & (top[:, :, None] > 0)
    # expected credit of a random tie-break among the leading answers, after each step
    credit = (tied * cls_val[:, None, :]).sum(axis=2) / np.maximum(tied.sum(axis=2), 1)
    if pools.prefix is not None:  # set_vote: the per-element vote of the samples read so far
        credit = pools.prefix[pools.mask]
    srt = np.sort(counts, axis=2)
    v1, v2 = srt[:, :, -1], srt[:, :, -2] if k > 1 else np.zeros_like(srt[:, :, -1])
    read = np.arange(1, k + 1)[None, :]
    answered = (ids >= 0).cumsum(axis=1)
    full = float(credit[:, -1].mean())

    def result(rule: str, knob: str, value: float, stop: np.ndarray) -> dict[str, Any]:
        # stop: (items, K) bool, True where the rule would stop after that step
        stop = stop.copy()
        stop[:, -1] = True
        at = stop.argmax(axis=1)
        acc = float(credit[np.arange(n), at].mean())
        used = float((at + 1).mean())
        return {
            "rule": rule,
            knob: value,
            "mean_samples": used,
            "samples_saved_share": fnum(1 - used / k),
            "accuracy": acc,
            "accuracy_full": full,
            "delta_points": 100 * (acc - full),
        }

    out = []
    for w in ESC_WINDOWS:
        if w >= k:
            continue
        stop = np.zeros((n, k), dtype=bool)
        for end in range(w, k + 1, w):
            win = ids[:, end - w : end]
            stop[:, end - 1] = (win[:, :1] >= 0).ravel() & (win == win[:, :1]).all(axis=1)
        out.append(result("esc", "window", w, stop))
    prob = beta_prob(v1, v2)
    for t in BETA_THRESHOLDS:
        out.append(result("beta", "threshold", t, (prob >= t) & (v1 > 0)))
    share = np.where(answered > 0, v1 / np.maximum(answered, 1), 0.0)
    for t in SHARE_THRESHOLDS:
        out.append(result("share", "threshold", t, (share >= t) & (read >= MIN_SHARE_SAMPLES)))
    return out
