"""Exact pool estimators: the expected value over ALL k-subsets of one item's pool of M samples,
returned for every k = 1..M at once (index k-1).

- `pass_at_k`: 1 - C(M-c, k) / C(M, k), the ceiling a perfect verifier reaches.
- `expected_max_of_k`: sum_i x_(i) C(i-1, k-1) / C(M, k) over the ascending order statistics
  (critical-path latency of k parallel calls; with 0/1 values it is pass@k).
- `best_of_k`: the value of the top-scored sample of a k-subset,
  sum_r v_r C(M-r, k-1) / C(M, k) over score ranks r (1 = best); equal scores are broken
  uniformly at random, which is the same as averaging the values within a tie group.
- `majority_at_k`: multivariate-hypergeometric sum over the answer counts, random tie-break
  (a tied answer gets credit 1 / number of tied answers), every distinct answer its own class.

`None` answers (nothing extractable, or an infrastructure-failed sample): with
`none="abstain"` (default, what the voting strategies do) they take a slot of the k draws but
cast no vote, and a subset of only `None`s yields no answer (credit 0). With `none="vote"` all
`None`s form one competing class "nothing" that is never correct.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache
from math import comb
from typing import Literal

import numpy as np

NoneMode = Literal["abstain", "vote"]


@lru_cache(maxsize=256)
def max_weights(m: int) -> np.ndarray:
    """(M, M) matrix W with W[k-1, i-1] = C(i-1, k-1) / C(M, k): P(the i-th smallest of M is
    the max of a uniform k-subset). Exact big-int ratios rounded once to float."""
    w = np.zeros((m, m))
    for k in range(1, m + 1):
        total = comb(m, k)
        for i in range(k, m + 1):
            w[k - 1, i - 1] = comb(i - 1, k - 1) / total
    w.setflags(write=False)
    return w


def expected_max_of_k(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """E[max of k values drawn without replacement from x], for k = 1..len(x)."""
    arr = np.sort(np.asarray(x, dtype=float))
    if arr.size == 0:
        return np.zeros(0)
    return max_weights(arr.size) @ arr


def pass_at_k(correct: Sequence[bool] | np.ndarray) -> np.ndarray:
    """P(at least one correct among k drawn without replacement), for k = 1..M."""
    c_arr = np.asarray(correct, dtype=bool)
    m, c = c_arr.size, int(c_arr.sum())
    i = np.arange(m)
    # C(M-c, k) / C(M, k) = prod_{i<k} (M-c-i) / (M-i); clip keeps it 0 once M-c-i hits 0
    miss = np.cumprod(np.clip(m - c - i, 0, None) / (m - i))
    return 1.0 - miss


def _tie_average(scores: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values ordered best score first, each replaced by the mean of its tie group."""
    order = np.argsort(-scores, kind="stable")
    s, v = scores[order], values[order]
    out = np.empty_like(v)
    start = 0
    for end in range(1, len(s) + 1):
        if end == len(s) or s[end] != s[start]:
            out[start:end] = v[start:end].mean()
            start = end
    return out


def best_of_k(
    scores: Sequence[float | None] | np.ndarray, values: Sequence[float] | np.ndarray
) -> np.ndarray:
    """E[value of the best-scored sample of a k-subset], k = 1..M. A `None` score ranks last
    (a sample the selector could not score); equal scores tie and are broken at random."""
    sc = np.array([-np.inf if s is None else float(s) for s in scores], dtype=float)
    sc = np.where(np.isnan(sc), -np.inf, sc)
    v = _tie_average(sc, np.asarray(values, dtype=float))
    # P(rank r, best first, is the subset's best) = C(M-r, k-1)/C(M, k): the max weights read
    # from the other end.
    return max_weights(v.size)[:, ::-1] @ v if v.size else np.zeros(0)


def _classes(
    answers: Sequence[Hashable | None], values: Sequence[float], none: NoneMode
) -> tuple[list[int], list[float], int]:
    """Counts and values (mean over the class's samples) of the voting classes, plus the
    number of abstaining samples."""
    counts: dict[Hashable, int] = {}
    sums: dict[Hashable, float] = {}
    abstain = 0
    nothing = object()
    for a, v in zip(answers, values, strict=True):
        if a is None:
            if none == "abstain":
                abstain += 1
                continue
            a, v = nothing, 0.0
        counts[a] = counts.get(a, 0) + 1
        sums[a] = sums.get(a, 0.0) + float(v)
    keys = list(counts)
    return [counts[k] for k in keys], [sums[k] / counts[k] for k in keys], abstain


def majority_at_k(
    answers: Sequence[Hashable | None],
    values: Sequence[float] | None = None,
    *,
    correct: Sequence[bool] | None = None,
    none: NoneMode = "abstain",
) -> np.ndarray:
    """Expected value of the majority-vote answer of a uniform k-subset, k = 1..M.

    answers: one hashable answer per sample (None = no answer); values: the scorer's value of
    each sample (1/0, or F1); `correct` may be given instead of values. Samples with the same
    answer must share a value (their mean is used)."""
    m = len(answers)
    if values is None:
        if correct is None:
            raise ValueError("majority_at_k needs `values` or `correct`")
        values = [1.0 if c else 0.0 for c in correct]
    counts, vals, abstain = _classes(answers, values, none)
    return _majority(m, tuple(counts), tuple(vals), abstain).copy()


@lru_cache(maxsize=65536)
def _majority(m: int, counts: tuple[int, ...], vals: tuple[float, ...], abstain: int) -> np.ndarray:
    """`majority_at_k` of a pool given its voting classes (counts and values, in first-seen
    order) and abstainers: pools of a run repeat a few shapes (nine samples, one answer), so
    each shape is computed once, summed in the same order as ever."""
    out = np.zeros(m)
    for i, (a, v) in enumerate(zip(counts, vals, strict=True)):
        if v == 0.0:
            continue
        others = tuple(sorted(counts[:i] + counts[i + 1 :]))
        out += v * _win_share(a, others, abstain)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4096)
def _binom_shift(total: int, size: int) -> np.ndarray:
    """(size, size) lower Toeplitz matrix multiplying a polynomial in x by (1+x)^total."""
    t = np.zeros((size, size))
    for b in range(min(total, size - 1) + 1):
        t += comb(total, b) * np.eye(size, k=-b)
    return t


@lru_cache(maxsize=4096)
def _truncated_shift(w: int, j: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift matrices for a class of w samples against a j-draw target: the part drawing
    fewer than j (sum_b<j C(w,b) x^b) and the part drawing exactly j (a tie)."""
    below = np.zeros((size, size))
    for b in range(j):
        below += comb(w, b) * np.eye(size, k=-b)
    return below, comb(w, j) * np.eye(size, k=-j)


@lru_cache(maxsize=65536)
def _win_share(a: int, others: tuple[int, ...], abstain: int) -> np.ndarray:
    """E[tie-share of a class with `a` samples winning a k-subset vote], k = 1..M, against
    competing classes of sizes `others` and `abstain` non-voting samples.

    For each j >= 1 draws of the class, a DP over the other classes tracks (draws s, number t
    of classes tied at j); classes smaller than j can never tie or beat it, so they merge with
    the abstainers into one (1+x)^n factor."""
    m = a + sum(others) + abstain
    size = m + 1
    num = np.zeros(size)
    t_max = len(others) + 1
    for j in range(1, a + 1):
        big = [w for w in others if w >= j]
        small = sum(w for w in others if w < j) + abstain
        poly = np.zeros((size, t_max))
        poly[0, 0] = 1.0
        poly = _binom_shift(small, size) @ poly
        for w in big:
            below, tie = _truncated_shift(w, j, size)
            new = below @ poly
            new[:, 1:] += (tie @ poly)[:, :-1]
            poly = new
        share = poly @ (1.0 / (1.0 + np.arange(t_max)))  # credit 1/(1+t) per subset
        # subsets with j draws of the class and s others contribute to k = j + s
        num[j:] += comb(a, j) * share[: size - j]
    ks = np.arange(1, size)
    totals = np.array([float(comb(m, int(k))) for k in ks])
    res = num[1:] / totals
    res.setflags(write=False)
    return res
