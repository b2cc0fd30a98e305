"""Curve claims measured out of sample: choose a point of a curve on one half of the items,
measure it on the other half, then swap the halves and average.

A figure read at a point that was chosen on the same data is biased: the saturation point is
where the observed remaining gain happens to be small, so the gain left there reads low; the
largest observed fall is largest partly by chance. Splitting the items in two (within strata,
whole clusters together, seeded) and measuring each half at the other half's choice removes
that bias: given its choice, a half's measurement is an ordinary mean over items that played
no part in choosing. The two measurements are averaged (cross-fitting), so no item is wasted.
The interval, the choices held fixed, is the wider (on each side) of the bootstrap of that
average on the shared weight matrix W (which follows strata and clusters) and the t interval
on the held-out per-item values (the percentile bootstrap is too narrow at small n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import t as t_dist

from tts_bench.analysis.bootstrap import MeanBatch, percentile_ci
from tts_bench.analysis.steps import Step, driven, results

# a half's choice from its per-item rows (items of the half, K): 1-based (a, b), the per-item
# value then read on the other half is y[b] - y[a]
Chooser = Callable[[np.ndarray], tuple[int, int]]


def split_halves(
    mask: np.ndarray,
    seed: int,
    strata: Sequence[object] | None = None,
    clusters: Sequence[object] | None = None,
) -> np.ndarray:
    """Half label per item: 0 or 1, -1 outside `mask`.

    mask: items that take part; seed: the split's seed (the same seed gives the same split);
    strata: one label per item (each stratum is split in two); clusters: one label per item
    (a cluster goes whole into one half, so the halves stay independent)."""
    n = mask.size
    units = list(clusters) if clusters is not None else list(range(n))
    labels = list(strata) if strata is not None else [0] * n
    first: dict[object, object] = {}  # a cluster's stratum is that of its first item
    for i in np.flatnonzero(mask):
        first.setdefault(units[i], labels[i])
    by_stratum: dict[str, list[object]] = {}
    for u, s in first.items():
        by_stratum.setdefault(str(s), []).append(u)
    rng = np.random.default_rng(seed)
    half_of: dict[object, int] = {}
    start = 0
    for key in sorted(by_stratum):  # fixed order: the same seed gives the same split
        members = by_stratum[key]
        for j, pos in enumerate(rng.permutation(len(members))):
            # alternate along a shuffled order, continuing across strata, so the halves'
            # sizes differ by at most one unit overall
            half_of[members[pos]] = (start + j) % 2
        start += len(members)
    out = np.full(n, -1, dtype=int)
    for i in np.flatnonzero(mask):
        out[i] = half_of[units[i]]
    return out


def crossfit_steps(
    y: np.ndarray,
    halves: np.ndarray,
    w: np.ndarray,
    choose: Chooser,
    confidence: float,
) -> Step[dict[str, Any] | None]:
    """Cross-fitted mean of y[:, b] - y[:, a] with (a, b) chosen on the other half.

    y: (items, K) per-item curve (rows outside both halves are ignored); halves: from
    `split_halves`; w: (resamples, items) bootstrap counts; choose: maps a half's rows to
    1-based (a, b); confidence: of the interval. Returns None when a half is empty,
    else {"value", "ci", "choices": [[a, b] of half 0, [a, b] of half 1]} (value and ci in
    y's units)."""
    masks = [halves == h for h in (0, 1)]
    if not all(m.any() for m in masks):
        return None
    choices = [choose(y[m]) for m in masks]
    batch = MeanBatch(w)
    parts = []
    value = var = 0.0
    for h, m in enumerate(masks):
        a, b = choices[1 - h]  # measured on half h at the other half's choice
        d = np.where(m, np.nan_to_num(y[:, b - 1] - y[:, a - 1]), 0.0)
        parts.append(batch.add(d, m))
        value += 0.5 * float(d[m].mean())
        var += 0.25 * float(d[m].var(ddof=1)) / m.sum() if m.sum() > 1 else np.nan
    res = yield from results(batch)
    lo, hi = percentile_ci(0.5 * (res[:, parts[0]] + res[:, parts[1]]), confidence)
    # the wider of the bootstrap (which follows strata and clusters) and the t interval on
    # the held-out per-item values (the percentile bootstrap is too narrow at small n)
    n = int(sum(m.sum() for m in masks))
    if lo is not None and hi is not None and np.isfinite(var) and n > 2:
        half = float(t_dist.ppf(0.5 + confidence / 2, n - 2)) * float(np.sqrt(var))
        lo, hi = min(lo, value - half), max(hi, value + half)
    return {"value": value, "ci": [lo, hi], "choices": [list(c) for c in choices]}


crossfit = driven(crossfit_steps)
