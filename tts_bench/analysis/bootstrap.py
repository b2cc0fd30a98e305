"""Paired, stratified (and clustered) percentile bootstrap on one shared count matrix.

Resampling item indices with replacement is the same as giving each item a multinomial
count. We draw those counts once, as a (resamples, items) matrix W, and every statistic of
every config is read off the same W: a mean of x over the items in a mask is
(W @ (x * mask)) / (W @ mask), one BLAS call per block of resamples for all configs and
groups at once. So deltas are paired (the same resampled items for every config) and no
Python loop runs per resample.

Strata: counts are drawn within each stratum, so each resample keeps the stratum sizes.
Clusters: when items share a source, whole clusters are drawn (within strata) and every item
gets the count of its cluster.

Memory: the counts are kept as uint8 (10 KB per item at 10,000 resamples; uint16 in the
never-seen case of a count above 255), and everything read off them works on blocks of
resamples, so no (resamples, items) array of wider numbers is ever built. The counts are the
same, draw for draw, as those of the float32 matrix this module used to build.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_CHUNK = 2048  # rows per draw call: part of the random stream (a fixed seed's counts)
_PIECE_CELLS = 1 << 18  # draws counted at once (~1.3 MB of uint32 and int64: cache-sized)
_BLOCK_CELLS = 1 << 23  # resamples x items widened at once in products and quantiles
_TRANSPOSE_ROWS = 256  # resamples of counts gathered before one transposed write
_GROUP = 64  # sorted items summed together before the running count (weighted_quantiles)


def counts_matrix(
    n_items: int,
    *,
    resamples: int,
    seed: int,
    strata: Sequence[object] | None = None,
    clusters: Sequence[object] | None = None,
) -> np.ndarray:
    """(resamples, n_items) matrix of bootstrap counts, uint8 (uint16 if a count passes 255),
    laid out item-major (a transposed view) so each item's counts are contiguous.

    strata: one label per item (None: no stratification); clusters: one label per item
    (None: each item its own cluster). A cluster is placed in the stratum of its first item.
    seed: the generator's seed; the same arguments give the same matrix."""
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
    w_units = np.zeros((n_units, resamples), dtype=np.uint8)
    for key in sorted(groups, key=str):  # fixed order: the same seed gives the same matrix
        members = np.asarray(groups[key])
        # each stratum's counts written in place: no second matrix, no copy
        at = slice(None) if members.size == n_units else members
        w_units = _counts(rng, resamples, members.size, into=w_units, at=at)
    if clusters is None:
        return w_units.T
    return w_units[unit_of_item].T


def weight_matrix(
    n_items: int,
    *,
    resamples: int,
    seed: int,
    strata: Sequence[object] | None = None,
    clusters: Sequence[object] | None = None,
) -> np.ndarray:
    """`counts_matrix` as float32 (exact integers), for callers that multiply it themselves;
    four times the memory of the counts, so the analysis of a run uses `counts_matrix`."""
    return counts_matrix(
        n_items, resamples=resamples, seed=seed, strata=strata, clusters=clusters
    ).astype(np.float32)


def _counts(
    rng: np.random.Generator,
    rows: int,
    n: int,
    *,
    into: np.ndarray | None = None,
    at: slice | np.ndarray | None = None,
) -> np.ndarray:
    """(n, rows) counts of n uniform draws with replacement from n units, per resample;
    `into`: a (units, rows) matrix whose rows `at` (n of them) get the counts instead, and
    which is returned (widened to uint16 if a count passes 255, as the new matrix is).

    The stream is that of one `rng.integers(0, n, size=(r, n))` (int64) call per chunk of
    `_CHUNK` rows. Each chunk is drawn here in pieces of a few rows as uint32: the same
    32-bit draws, in the same order (the generator keeps the spare half of a 64-bit word
    between the pieces of a chunk, and it is dropped at the chunk's end as the int64 call
    drops it), so memory stays at a piece's size."""
    out = np.zeros((n, rows), dtype=np.uint8) if into is None else into
    where = slice(None) if at is None else at
    if n == 0:
        return out
    piece = max(1, min(_CHUNK, _PIECE_CELLS // n))
    bitgen = rng.bit_generator
    top = int(np.iinfo(out.dtype).max)
    for start in range(0, rows, _CHUNK):
        r = min(_CHUNK, rows - start)
        # resample-major rows gathered, then written to `out` (item-major) in one transposed
        # copy: writing a few columns of `out` at a time costs two thirds of the time
        for s0 in range(0, r, _TRANSPOSE_ROWS):
            s1 = min(r, s0 + _TRANSPOSE_ROWS)
            buf = np.empty((s1 - s0, n), dtype=out.dtype)
            for p0 in range(s0, s1, piece):
                p = min(piece, s1 - p0)
                draws = rng.integers(0, n, size=(p, n), dtype=np.uint32)
                # one resample at a time: its counts stay in cache (half the time of one
                # bincount over the piece with row offsets)
                for j in range(p):
                    cnt = np.bincount(draws[j], minlength=n)
                    # a count never exceeds n: look for an overflow only when it could be one
                    if n > top and cnt.max() > top:
                        out, buf = out.astype(np.uint16), buf.astype(np.uint16)
                        top = np.iinfo(out.dtype).max
                    buf[p0 - s0 + j] = cnt
            out[where, start + s0 : start + s1] = buf.T
        if _has_spare(bitgen):  # the int64 call ends here and drops the spare half
            _drop_spare(bitgen)
    return out


def _has_spare(bitgen: np.random.BitGenerator) -> bool:
    return bool(bitgen.state.get("has_uint32", 0))


def _drop_spare(bitgen: np.random.BitGenerator) -> None:
    state = bitgen.state
    state["has_uint32"] = 0
    state["uinteger"] = 0
    bitgen.state = state


def _row_blocks(w: np.ndarray, cells: int | None = None) -> list[slice]:
    """Slices of resamples so that a block widened to 32 bits stays near `_BLOCK_CELLS`
    (cells: another size)."""
    rows, cols = w.shape
    step = max(1, min(rows, (cells or _BLOCK_CELLS) // max(cols, 1)))
    return [slice(r, min(r + step, rows)) for r in range(0, rows, step)]


def weighted_quantiles(
    w: np.ndarray, x: np.ndarray, qs: Sequence[float], mask: np.ndarray | None = None
) -> np.ndarray:
    """Resampled q-quantiles (inverted-CDF order statistic) of x under each row of weights
    (counts: integers, or integer-valued floats). Returns (resamples, len(qs)).

    Per resample, the order statistic is the first sorted item whose running count reaches
    q of the total. Running sums over every item are slow along a strided axis, so the
    sorted items are summed in groups of `_GROUP` (one pass), the group where the running
    count crosses is found from the group sums, and only that group is summed item by item.
    Counts are integers: every sum is exact, and the result is that of a full running sum."""
    xv = np.asarray(x, dtype=float)
    keep = ~np.isnan(xv) if mask is None else (np.asarray(mask, bool) & ~np.isnan(xv))
    idx = np.flatnonzero(keep)
    out = np.full((w.shape[0], len(qs)), np.nan)
    if idx.size == 0:
        return out
    order = idx[np.argsort(xv[idx], kind="stable")]
    sorted_x = xv[order]
    m = order.size
    n_groups = -(-m // _GROUP)
    # padding with the first item's index, its count zeroed below: whole groups, same sums
    padded = np.concatenate([order, np.full(n_groups * _GROUP - m, order[0])])
    if w.dtype == np.uint8:
        acc = np.dtype(np.uint16)  # a group of 64 counts of at most 255 fits
    else:
        acc = np.dtype(np.int64 if w.dtype.kind in "iu" else np.float64)
    # blocks of uint8 (not widened) four times the products' cells: the sorted gather reads
    # a run of each item's counts per block, so longer runs mean fewer scattered reads (at
    # 100,000 items a third of the time); integer sums, so the block size changes nothing
    for rows in _row_blocks(w, 4 * _BLOCK_CELLS):
        part = w[rows].T[padded]  # (items, resamples of the block), one row per item
        part[m:] = 0
        groups = part.reshape(n_groups, _GROUP, -1).sum(axis=1, dtype=acc)
        cum_g = np.cumsum(groups, axis=0, dtype=np.int64 if acc.kind in "iu" else np.float64)
        total = cum_g[-1]
        cols = np.arange(part.shape[1])
        for j, q in enumerate(qs):
            # (in float32, as when the counts were a float32 matrix: the same thresholds)
            need = np.ceil(q * total.astype(np.float32) - 1e-9)
            g = np.minimum((cum_g < need[None, :]).sum(axis=0), n_groups - 1)
            before = np.where(g > 0, cum_g[np.maximum(g - 1, 0), cols], 0)
            inside = part[g[None, :] * _GROUP + np.arange(_GROUP)[:, None], cols[None, :]]
            run = np.cumsum(inside, axis=0, dtype=cum_g.dtype) + before[None, :]
            pos = g * _GROUP + (run < need[None, :]).sum(axis=0)
            out[rows, j] = sorted_x[np.minimum(pos, m - 1)]
        out[rows][total == 0] = np.nan  # a basic slice: a view of `out`
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
    all with one matrix product per block of resamples (w: counts or float weights). A mean
    over a mask is (x * mask, mask); a ratio of two means over the same items is
    (a * mask, b * mask). Repeated denominators are multiplied once. Once resolved, a batch
    keeps its ratios only (its columns are freed) and takes no more columns."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w
        self._num: list[np.ndarray] = []
        self._den_of: list[int] = []
        self._dens: dict[bytes, int] = {}
        self._den: list[np.ndarray] = []
        self._out: np.ndarray | None = None

    def add(self, num: np.ndarray, den: np.ndarray) -> int:
        if self._out is not None:
            raise RuntimeError("a resolved MeanBatch takes no more columns")
        self._num.append(np.nan_to_num(np.asarray(num, dtype=float)))
        d = np.nan_to_num(np.asarray(den, dtype=float))
        key = d.tobytes()
        if key not in self._dens:
            self._dens[key] = len(self._den)
            self._den.append(d)
        self._den_of.append(self._dens[key])
        return len(self._num) - 1

    def run(self) -> np.ndarray:
        """(resamples, added) resampled ratios (NaN where a denominator is 0)."""
        if self._out is None:
            type(self).solve([self])
        assert self._out is not None
        return self._out

    @classmethod
    def solve(cls, batches: Sequence[MeanBatch]) -> None:
        """Resolve batches that share one counts matrix with one product per block of
        resamples, their columns side by side: the counts are widened once for all of them
        (a product's float32 sums round by its set of columns, within float32 rounding)."""
        todo = [b for b in batches if b._out is None]
        if not todo:
            return
        w = todo[0].w
        assert all(b.w is w for b in todo), "batches of one product share their counts"
        nums: list[np.ndarray] = []
        dens: list[np.ndarray] = []
        den_at: dict[bytes, int] = {}
        where: list[tuple[list[int], list[int]]] = []
        for b in todo:
            at = list(range(len(nums), len(nums) + len(b._num)))
            nums.extend(b._num)
            own: list[int] = []
            for key, d in zip(b._dens, b._den, strict=True):  # keys as `add` made them
                if key not in den_at:
                    den_at[key] = len(dens)
                    dens.append(d)
                own.append(den_at[key])
            where.append((at, [own[k] for k in b._den_of]))
        if not nums:
            for b in todo:
                b._out = np.zeros((w.shape[0], 0))
            return
        # float32 unless the weights are wider floats (counts are exact either way)
        dt = w.dtype if w.dtype.kind == "f" else np.dtype(np.float32)
        # filled column by column: no (items, columns) float64 copy beside it
        cols = np.empty((w.shape[1], len(nums) + len(dens)), dtype=dt)
        for j, c in enumerate(nums + dens):
            cols[:, j] = c
        prod = np.empty((w.shape[0], cols.shape[1]))
        for rows in _row_blocks(w):
            prod[rows] = w[rows].astype(dt, copy=False) @ cols
        k = len(nums)
        with np.errstate(invalid="ignore", divide="ignore"):
            for b, (at, den) in zip(todo, where, strict=True):
                b._out = prod[:, at] / prod[:, [k + d for d in den]]
        for b in todo:  # the columns are no longer needed (a run holds ~100 of them)
            b._num, b._den, b._dens = [], [], {}


def studentized_ci(
    mean_res: np.ndarray,
    sq_res: np.ndarray,
    mean: np.ndarray,
    sq: np.ndarray,
    n: np.ndarray,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Studentized (bootstrap-t) interval of a mean, per column: t* = (m* - m) / se* over the
    resamples, CI = [m - t*_{1-a/2} se, m - t*_{a/2} se], se = sd / sqrt(n). Inputs: the
    resampled means and means of squares, (resamples, k), and the observed mean, mean of
    squares and item count, (k,). It corrects the percentile interval's narrowness and skew at
    small n. A column whose sd is 0 gets [m, m]; NaN where n < 2 or too many resamples are
    undefined (a resample whose sd is 0).

    Not for means of 0/1 (or mostly identical) values near 0 or 1: resamples with few
    non-zero differences have a tiny se*, the t* spread explodes or collapses, and coverage
    falls to 3% at a true 95% → 98% on 50 paired items (docs/analysis.md, coverage table);
    the analysis uses score intervals there (`stats.paired_interval`, `stats.mean_interval`)."""
    m_r, s_r = np.asarray(mean_res, dtype=float), np.asarray(sq_res, dtype=float)
    m, s, k = (np.asarray(v, dtype=float) for v in (mean, sq, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(k > 1, k / (k - 1), np.nan)
        se = np.sqrt(np.maximum(s - m * m, 0.0) * corr / k)
        se_r = np.sqrt(np.maximum(s_r - m_r * m_r, 0.0) * corr / k)
        t = (m_r - m) / se_r
    return _pivot(m, se, t, k, confidence)


def ratio_studentized_ci(
    res: np.ndarray, point: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Studentized interval of a ratio of two means, mean(a) / mean(b), on the log scale.
    `res` is (resamples, 5, k): the resampled means of a, b, a², b² and ab; `point` (5, k) the
    observed ones; `n` (k,) the item counts. The delta method gives each resample's standard
    error of log(mean a / mean b); t* = (log r* − log r) / se*, and the interval is
    exp(log r − t*_{1−α/2} se) .. exp(log r − t*_{α/2} se). NaN where a mean is not positive
    or n < 2."""
    r = np.asarray(res, dtype=float)
    p = np.asarray(point, dtype=float)
    k = np.asarray(n, dtype=float)

    def log_and_se(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ma, mb, saa, sbb, sab = (m[..., i, :] for i in range(5))
        with np.errstate(invalid="ignore", divide="ignore"):
            va, vb, cab = saa - ma * ma, sbb - mb * mb, sab - ma * mb
            var = (va / ma**2 + vb / mb**2 - 2 * cab / (ma * mb)) * k / (k - 1) / k
            log_r = np.where((ma > 0) & (mb > 0), np.log(ma / mb), np.nan)
        return log_r, np.sqrt(np.maximum(var, 0.0))

    lr, se = log_and_se(p)
    lr_r, se_r = log_and_se(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (lr_r - lr) / se_r
    lo, hi = _pivot(lr, se, t, k, confidence)
    return np.exp(lo), np.exp(hi)


def _pivot(
    est: np.ndarray, se: np.ndarray, t: np.ndarray, k: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """The studentized interval est − t*_{1−α/2} se .. est − t*_{α/2} se from the resampled
    t* (non-finite t* dropped); est itself where se is 0, NaN where k < 2."""
    t[~np.isfinite(t)] = np.nan
    t_lo, t_hi = percentile_ci(t, confidence)
    lo = np.where(se > 0, est - np.asarray(t_hi, dtype=float) * se, est)
    hi = np.where(se > 0, est - np.asarray(t_lo, dtype=float) * se, est)
    bad = ~(k > 1)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def add_ratio(batch: MeanBatch, a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> list[int]:
    """Queue the five resampled means `ratio_studentized_ci` needs for mean(a) / mean(b) over
    the items in mask (a, b: NaN allowed outside the mask); returns their column indices."""
    m = np.asarray(mask, dtype=bool)
    av, bv = np.where(m, a, 0.0), np.where(m, b, 0.0)
    return [batch.add(x, m) for x in (av, bv, av * av, bv * bv, av * bv)]


def ratio_ci(
    res: np.ndarray,
    cols: list[int],
    a: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray,
    confidence: float = 0.95,
) -> tuple[float | None, float | None]:
    """The studentized interval of mean(a) / mean(b) over mask, from a `MeanBatch` result and
    the columns `add_ratio` returned; (None, None) when it is undefined."""
    m = np.asarray(mask, dtype=bool)
    av, bv = np.asarray(a, dtype=float)[m], np.asarray(b, dtype=float)[m]
    if av.size < 2:
        return None, None
    point = np.array([x.mean() for x in (av, bv, av * av, bv * bv, av * bv)])[:, None]
    lo, hi = ratio_studentized_ci(res[:, cols][:, :, None], point, np.array([av.size]), confidence)
    ok = np.isfinite(lo[0]) and np.isfinite(hi[0])
    return (float(lo[0]), float(hi[0])) if ok else (None, None)
