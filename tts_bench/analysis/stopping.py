"""Stopping rules of adaptive sampling, one implementation for the live
`adaptive_consistency` strategy and the offline replay (analysis/adaptive.py).

Samples are read in order. Each is a class id (the index of its vote key) or -1 when it
abstains (no answer extracted, or a failed sample). For every prefix length t the rules say
whether a sampler that has read t samples stops there:
- `esc` (early-stopping self-consistency, Li et al. 2024), knob `w`: checked at the end of
  each window of w samples (t = w, 2w, ...); stops when the window's w samples all give the
  same answer or all abstain (a window of non-answers settles nothing more will come).
- `beta` (adaptive-consistency, Aggarwal et al. 2023), knob `threshold`: stops when
  P(p1 > p2) >= threshold, p1, p2 the shares of the two leading answers under a
  Beta(v1 + 1, v2 + 1) posterior, i.e. 1 - I_{1/2}(v1 + 1, v2 + 1).
- `share` (the live strategy's `majority`), knob `threshold`: stops once the leading answer
  holds at least `threshold` of the answers, after at least `MIN_SHARE_SAMPLES` samples.
`beta` and `share` also stop, like ESC, once the last `window` samples all abstained: an item
the model cannot answer would otherwise draw the whole budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

RULES = ("esc", "beta", "share")
MIN_SHARE_SAMPLES = 3


def beta_prob(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """P(p1 > p2) under Beta(v1 + 1, v2 + 1): 1 - I_{1/2}(v1 + 1, v2 + 1), computed as the
    upper incomplete beta (the value of `scipy.stats.beta.sf` without importing
    scipy.stats)."""
    from scipy.special import betaincc

    return betaincc(np.asarray(v1) + 1.0, np.asarray(v2) + 1.0, 0.5)


@lru_cache(maxsize=8)
def _beta_table(size: int) -> np.ndarray:
    """beta_prob(a, b) for every a, b < size: a replay asks for the same few counts millions of
    times, and a table lookup returns the function's own values."""
    grid = np.arange(size)
    return beta_prob(grid[:, None], grid[None, :])


@dataclass
class Tally:
    """Votes after each prefix of a batch of sample sequences, all shaped (items, t)."""

    ids: np.ndarray  # class id per sample, -1 = abstains
    v1: np.ndarray  # votes of the leading answer
    v2: np.ndarray  # votes of the runner-up
    answered: np.ndarray  # samples with an answer
    abstain_run: np.ndarray  # abstaining samples in a row ending at this step
    counts: np.ndarray  # (items, t, classes) votes per class

    # read by every threshold of a rule: computed once per tally
    @cached_property
    def prob(self) -> np.ndarray:
        """beta_prob(v1, v2) (0 where nothing was answered)."""
        table = _beta_table(max(64, 1 << int(self.v1.max(initial=0)).bit_length()))
        return np.where(self.v1 > 0, table[self.v1, self.v2], 0.0)

    @cached_property
    def lead(self) -> np.ndarray:
        """The leading answer's share of the answers, from MIN_SHARE_SAMPLES samples on
        (0 before, or with no answer)."""
        read = np.arange(1, self.ids.shape[1] + 1)[None, :]
        share = np.where(self.answered > 0, self.v1 / np.maximum(self.answered, 1), 0.0)
        return np.where(read >= MIN_SHARE_SAMPLES, share, 0.0)


def tally(ids: np.ndarray) -> Tally:
    """Running vote counts of (items, t) class ids (-1 = abstains)."""
    ids = np.asarray(ids, dtype=np.int64)
    n, t = ids.shape
    classes = max(int(ids.max(initial=-1)) + 1, 1)
    # int32 counts (a pool never holds 2**31 samples): half the memory traffic of int64
    onehot = ids[:, :, None] == np.arange(classes, dtype=np.int64)[None, None, :]
    counts = np.cumsum(onehot, axis=1, dtype=np.int32)
    if classes > 1:  # the two largest counts; a partial sort is enough
        top2 = np.partition(counts, classes - 2, axis=2)[:, :, -2:]
        v1, v2 = top2[:, :, 1], top2[:, :, 0]
    else:
        v1 = counts[:, :, 0]
        v2 = np.zeros_like(v1)
    run = np.zeros((n, t), dtype=np.int64)
    prev = np.zeros(n, dtype=np.int64)
    for j in range(t):  # t is a pool size: a short loop
        prev = np.where(ids[:, j] < 0, prev + 1, 0)
        run[:, j] = prev
    return Tally(ids, v1, v2, (ids >= 0).cumsum(axis=1), run, counts)


def stops(rule: str, knob: float, tl: Tally, window: int) -> np.ndarray:
    """(items, t) bool: True where a sampler that has read that many samples stops.

    rule: `esc` (knob = its window w; `window` is unused), `beta` or `share` (knob = the
    threshold); window: abstentions in a row that stop `beta` and `share`."""
    n, t = tl.ids.shape
    out = np.zeros((n, t), dtype=bool)
    if rule == "esc":
        w = int(knob)
        for end in range(w, t + 1, w):
            win = tl.ids[:, end - w : end]
            out[:, end - 1] = (win == win[:, :1]).all(axis=1)
        return out
    silent = tl.abstain_run >= window
    if rule == "beta":
        return ((tl.prob >= knob) & (tl.v1 > 0)) | silent
    if rule == "share":  # lead is 0 before MIN_SHARE_SAMPLES and with no answer
        return ((tl.lead >= knob) & (tl.lead > 0)) | silent
    raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
