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

from dataclasses import dataclass, field
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
    _silent: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

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

    @cached_property
    def voted(self) -> np.ndarray:
        """Some answer has a vote."""
        return self.v1 > 0

    @cached_property
    def leading(self) -> np.ndarray:
        """`lead` is counted (MIN_SHARE_SAMPLES read, some answer given)."""
        return self.lead > 0

    def silent(self, window: int) -> np.ndarray:
        """The last `window` samples all abstained (every threshold of a rule asks)."""
        got = self._silent.get(window)
        if got is None:
            got = self._silent[window] = self.abstain_run >= window
        return got


def tally(ids: np.ndarray) -> Tally:
    """Running vote counts of (items, t) class ids (-1 = abstains), any integer type."""
    ids = np.asarray(ids)
    if ids.dtype.kind != "i":
        ids = ids.astype(np.int64)
    n, t = ids.shape
    classes = max(int(ids.max(initial=-1)) + 1, 1)
    # counts never exceed t: the narrowest type that holds t halves and quarters the memory
    # traffic of every pass below
    count_type = np.int8 if t < 128 else np.int16 if t < 1 << 15 else np.int32
    # accumulated over a leading step axis (whole contiguous planes per step), read through
    # an (items, t, classes) view
    steps = np.ascontiguousarray(ids.T)
    onehot = steps[:, :, None] == np.arange(classes, dtype=ids.dtype)[None, None, :]
    planes = onehot.view(np.int8) if count_type is np.int8 else onehot.astype(count_type)
    for j in range(1, t):  # t is a pool size: a short loop of whole-plane adds
        np.add(planes[j - 1], planes[j], out=planes[j])
    counts = planes.transpose(1, 0, 2)
    # the two largest counts, one class at a time (a handful of classes: cheaper than a
    # partition along a short last axis)
    v1 = counts[:, :, 0].copy()
    v2 = np.zeros_like(v1)
    for c in range(1, classes):
        x = counts[:, :, c]
        np.maximum(v2, np.minimum(v1, x), out=v2)
        np.maximum(v1, x, out=v1)
    # abstentions in a row: steps since the last answered sample (0 when this one answered)
    step = np.arange(1, t + 1)
    run = step - np.maximum.accumulate(np.where(ids >= 0, step, 0), axis=1)
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
            first = tl.ids[:, end - w]
            agree = tl.ids[:, end - 1] == first
            for j in range(end - w + 1, end - 1):  # a short window: column by column
                agree &= tl.ids[:, j] == first
            out[:, end - 1] = agree
        return out
    silent = tl.silent(window)
    if rule == "beta":
        return ((tl.prob >= knob) & tl.voted) | silent
    if rule == "share":  # lead is 0 before MIN_SHARE_SAMPLES and with no answer
        return ((tl.lead >= knob) & tl.leading) | silent
    raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
