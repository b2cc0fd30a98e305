"""Paired, stratified (and clustered) percentile bootstrap on one shared weight matrix.

Resampling item indices with replacement is the same as giving each item a multinomial
count. We draw those counts once, as a (resamples, items) matrix W, and every statistic of
every config is read off the same W: a mean of x over the items in a mask is
(W @ (x * mask)) / (W @ mask), one BLAS call for all configs and groups at once. So deltas
are paired (the same resampled items for every config) and no Python loop runs per resample.

Strata: counts are drawn within each stratum, so each resample keeps the stratum sizes.
Clusters: when items share a source, whole clusters are drawn (within strata) and every item
gets the count of its cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_CHUNK = 2048  # rows drawn at a time, to bound the int64 index buffer


def weight_matrix(
    n_items: int,
    *,
    resamples: int,
    seed: int,
    strata: Sequence[object] | None = None,
    clusters: Sequence[object] | None = None,
) -> np.ndarray:
    """(resamples, n_items) float32 matrix of bootstrap counts (exact integers; float32 halves
    the memory traffic of the products).

    strata: one label per item (None: no stratification); clusters: one label per item
    (None: each item its own cluster). A cluster is placed in the stratum of its first item."""
    rng = np.random.default_rng(seed)
    if clusters is None:
        unit_of_item = np.arange(n_items)
        n_units = n_items
        unit_strata = list(strata) if strata is not None else None
    else:
        codes: dict[object, int] = {}
        unit_of_item = np.array([codes.setdefault(c, len(codes)) for c in clusters])
        n_units = len(codes)
        unit_strata = None
        if strata is not None:
            first: dict[int, object] = {}
            for u, s in zip(unit_of_item, strata, strict=True):
                first.setdefault(int(u), s)
            unit_strata = [first[u] for u in range(n_units)]
    groups: dict[object, list[int]] = {}
    for u in range(n_units):
        groups.setdefault(unit_strata[u] if unit_strata is not None else 0, []).append(u)
    # laid out (units, resamples) so that per-item rows are contiguous (fast gathers and
    # running sums in `weighted_quantiles`); returned transposed, as a (resamples, units) view
    w_units = np.zeros((n_units, resamples), dtype=np.float32)
    for key in sorted(groups, key=str):  # fixed order: the same seed gives the same matrix
        members = np.asarray(groups[key])
        w_units[members] = _counts(rng, resamples, members.size)
    if clusters is None:
        return w_units.T
    return w_units[unit_of_item].T


def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """(n, rows) counts of n uniform draws with replacement from n units, per resample."""
    out = np.empty((n, rows), dtype=np.float32)
    for start in range(0, rows, _CHUNK):
        r = min(_CHUNK, rows - start)
        idx = rng.integers(0, n, size=(r, n)) * r + np.arange(r)[:, None]
        out[:, start : start + r] = np.bincount(idx.ravel(), minlength=r * n).reshape(n, r)
    return out


def weighted_quantiles(
    w: np.ndarray, x: np.ndarray, qs: Sequence[float], mask: np.ndarray | None = None
) -> np.ndarray:
    """Resampled q-quantiles (inverted-CDF order statistic) of x under each row of weights.
    Returns (resamples, len(qs)). Counts are integers, so the running sums are exact ints."""
    xv = np.asarray(x, dtype=float)
    keep = ~np.isnan(xv) if mask is None else (np.asarray(mask, bool) & ~np.isnan(xv))
    idx = np.flatnonzero(keep)
    out = np.full((w.shape[0], len(qs)), np.nan)
    if idx.size == 0:
        return out
    order = idx[np.argsort(xv[idx], kind="stable")]
    sorted_x = xv[order]
    # running count along the sorted items over all resamples (exact: integer counts)
    cum = w.T[order]
    np.cumsum(cum, axis=0, out=cum)
    total = cum[-1]
    for j, q in enumerate(qs):
        # the first order statistic whose cumulative count reaches q of the total
        need = np.ceil(q * total - 1e-9)
        pos = (cum < need[None, :]).sum(axis=0)
        out[:, j] = sorted_x[np.minimum(pos, sorted_x.size - 1)]
    out[total == 0] = np.nan
    return out


def percentile_ci(
    samples: np.ndarray, confidence: float = 0.95, max_missing: float = 0.01
) -> tuple[np.ndarray | float | None, np.ndarray | float | None]:
    """Percentile interval along axis 0 (linear interpolation, as scipy.stats.bootstrap),
    skipping undefined (NaN) resamples. A column is None/NaN when more than `max_missing` of
    its resamples are undefined."""
    s = np.asarray(samples, dtype=float)
    scalar = s.ndim == 1
    s2 = s.reshape(s.shape[0], -1)
    alpha = 1 - confidence
    srt = np.sort(s2, axis=0)  # NaN sorts last
    valid = (~np.isnan(s2)).sum(axis=0)
    ends = []
    for q in (alpha / 2, 1 - alpha / 2):
        pos = q * np.maximum(valid - 1, 0)
        lo_i = np.floor(pos).astype(int)
        hi_i = np.minimum(lo_i + 1, np.maximum(valid - 1, 0))
        a = np.take_along_axis(srt, lo_i[None, :], axis=0)[0]
        b = np.take_along_axis(srt, hi_i[None, :], axis=0)[0]
        v = a + (pos - lo_i) * (b - a)
        v[(valid == 0) | (1 - valid / max(s2.shape[0], 1) > max_missing)] = np.nan
        ends.append(v)
    lo, hi = ends
    if scalar:
        return (None if np.isnan(lo[0]) else float(lo[0])), (
            None if np.isnan(hi[0]) else float(hi[0])
        )
    return lo.reshape(s.shape[1:]), hi.reshape(s.shape[1:])


class MeanBatch:
    """Collects ratios of resampled sums, sum_i w_i num_i / sum_i w_i den_i, and resolves them
    all with one matrix product. A mean over a mask is (x * mask, mask); a ratio of two means
    over the same items is (a * mask, b * mask). Repeated denominators are multiplied once."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w
        self._num: list[np.ndarray] = []
        self._den_of: list[int] = []
        self._dens: dict[bytes, int] = {}
        self._den: list[np.ndarray] = []
        self._out: np.ndarray | None = None

    def add(self, num: np.ndarray, den: np.ndarray) -> int:
        self._num.append(np.nan_to_num(np.asarray(num, dtype=float)))
        d = np.nan_to_num(np.asarray(den, dtype=float))
        key = d.tobytes()
        if key not in self._dens:
            self._dens[key] = len(self._den)
            self._den.append(d)
        self._den_of.append(self._dens[key])
        self._out = None
        return len(self._num) - 1

    def run(self) -> np.ndarray:
        """(resamples, added) resampled ratios (NaN where a denominator is 0)."""
        if self._out is None:
            if not self._num:
                self._out = np.zeros((self.w.shape[0], 0))
            else:
                k = len(self._num)
                cols = np.column_stack(self._num + self._den).astype(self.w.dtype)
                prod = (self.w @ cols).astype(float)
                with np.errstate(invalid="ignore", divide="ignore"):
                    self._out = prod[:, :k] / prod[:, k:][:, self._den_of]
        return self._out
