"""Per-element vote curves for `set_vote` pools: the expected scorer value of the set that the
strategy's own rule keeps from a uniform k-subset of an item's pool, for every k = 1..M.

The rule is the strategy's (tts_bench.scoring.voting, which tts_bench.strategies.set_vote
uses): an element is kept when at least `min_votes` usable samples of the subset contain it,
else ceil(min_share x usable); samples without an answer abstain, and a subset with no usable
sample has no answer (value 0). The kept set is put in the scorer's canonical form and scored
against the record's target with the suite's scorer, so the value is the same F1 the records
carry.

k-subsets are enumerated exactly when C(M, k) <= MAX_SUBSETS; otherwise the value is the mean
over MAX_SUBSETS random k-subsets drawn with a seed fixed per item (crc32 of its id), and the
k is listed as sampled.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from functools import cache
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from tts_bench.scoring.voting import canonical_answer, elements, threshold

MAX_SUBSETS = 3000  # above this many k-subsets the mean is over a seeded random sample


def _subsets(m: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(S, k) sample indices: every k-subset, or MAX_SUBSETS random ones; True when sampled."""
    if comb(m, k) <= MAX_SUBSETS:
        return np.array(list(combinations(range(m), k)), dtype=int).reshape(-1, k), False
    return np.argsort(rng.random((MAX_SUBSETS, m)), axis=1)[:, :k], True


def element_vote_curve(
    sets: Sequence[frozenset[str] | None],
    value_of: Callable[[frozenset[str]], float],
    need: Sequence[int],
    *,
    seed: int = 0,
    prefix: bool = False,
) -> tuple[np.ndarray, list[int]]:
    """E[value of the per-element vote of a k-subset], k = 1..M, and the k that were sampled.

    sets: each sample's element keys (None = an unusable sample, which abstains); value_of:
    the scorer's value of a kept set; need[u]: votes an element needs when u samples of the
    subset are usable. With `prefix`, the subset for k is the first k samples (pool order),
    as a sequential reader sees them."""
    m = len(sets)
    elems = sorted({e for s in sets if s for e in s})
    x = np.zeros((m, len(elems)), dtype=np.int32)
    pos = {e: j for j, e in enumerate(elems)}
    for i, s in enumerate(sets):
        for e in s or ():
            x[i, pos[e]] = 1
    ok = np.array([s is not None for s in sets], dtype=np.int32)
    need_arr = np.asarray(need, dtype=np.int32)
    rng = np.random.default_rng(seed)
    out = np.zeros(m)
    sampled: list[int] = []
    for k in range(1, m + 1):
        if prefix:
            idx, was_sampled = np.arange(k)[None, :], False
        else:
            idx, was_sampled = _subsets(m, k, rng)
        if was_sampled:
            sampled.append(k)
        usable = ok[idx].sum(axis=1)
        kept = x[idx].sum(axis=1) >= need_arr[usable][:, None]
        if not elems:  # no sample named any element: every answering subset keeps nothing
            vals, inverse = np.array([value_of(frozenset())]), np.zeros(len(idx), dtype=int)
        else:
            rows, inverse = np.unique(kept, axis=0, return_inverse=True)
            vals = np.array(
                [
                    value_of(frozenset(e for e, keep in zip(elems, row, strict=True) if keep))
                    for row in rows
                ]
            )
        v = vals[np.asarray(inverse).ravel()]
        out[k - 1] = float(np.where(usable > 0, v, 0.0).mean())
    return out, sampled


def item_seed(item_id: str) -> int:
    return zlib.crc32(item_id.encode("utf-8"))


class SetVoter:
    """Builds the per-item curves for one set_vote config: knobs `min_votes`, `min_share`
    (the strategy's defaults when absent) and the suite's scorer."""

    def __init__(self, scorer: Any, spec: dict[str, Any]) -> None:
        self._scorer = scorer
        mv = spec.get("min_votes")
        share = spec.get("min_share")
        self.min_votes = int(mv) if mv is not None else None
        self.min_share = float(share) if share is not None else 0.3

    def need(self, m: int) -> list[int]:
        """Votes needed for u = 0..m usable samples (u = 0 is never used: no answer)."""
        return [threshold(u, self.min_votes, self.min_share) for u in range(m + 1)]

    def curves(
        self, answers: Sequence[Any], target: Any, item_id: str
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(curve over uniform k-subsets, curve over the first k samples, sampled ks) for one
        pool; answers: per sample the canonical set answer, None when unusable."""
        shown: dict[str, str] = {}
        sets: list[frozenset[str] | None] = []
        for a in answers:
            if a is None:
                sets.append(None)
                continue
            text = a if isinstance(a, str) else ", ".join(map(str, a))
            els = elements(text, self._scorer.key)
            for k, v in els.items():
                shown.setdefault(k, v)
            sets.append(frozenset(els))

        @cache  # a pool votes a handful of distinct sets
        def value_of(kept: frozenset[str]) -> float:
            answer = canonical_answer([shown[k] for k in sorted(kept)], self._scorer.extract)
            v = self._scorer.score(answer, target).value
            return float(v) if v is not None else 0.0

        need = self.need(len(answers))
        curve, sampled = element_vote_curve(sets, value_of, need, seed=item_seed(item_id))
        prefix, _ = element_vote_curve(sets, value_of, need, prefix=True)
        return curve, prefix, sampled
