"""Voting rules over a pool of answers, shared by the strategies, the importers and analysis.

Plain functions over answers and two callables of the suite's scorer: `key` (an answer's
identity, so 42 and 42.0 vote together and distinct wrong answers stay apart; under
`scorer.normalize` it is the normalised form, so "a-b-c" and "abc" are one answer under
`letters_only`) and `extract` (text -> canonical answer). Nothing here calls a model or reads
a run.

- `majority`: the most-voted identity; ties broken by `rng.choice` over the sorted tied keys
  (the rng is drawn from only when there is a tie), as the pooled estimators assume.
- `elements`, `threshold`, `canonical_answer`: the pieces of set_vote's per-element vote.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# The canonical set form (scoring.Scorer.canonical) joins ids with ", ".
_SEP = ","


@dataclass(frozen=True)
class Majority:
    """The outcome of a vote: `index` of the first answer with the winning identity `key`,
    `votes` per identity (in order of first appearance) and `confidence` = the winner's share
    of the votes."""

    index: int
    key: str
    votes: Counter[str]
    confidence: float


def majority(
    answers: Sequence[Any],
    key: Callable[[Any], str],
    rng: random.Random,
    weights: Sequence[float] | None = None,
) -> Majority | None:
    """Majority (or weighted) vote over `answers`; None entries abstain. `key` is called once
    per answer. None when nothing voted (or the weights sum to <= 0)."""
    votes: Counter[str] = Counter()
    first_of: dict[str, int] = {}
    for i, (a, w) in enumerate(zip(answers, weights or [1.0] * len(answers), strict=True)):
        if a is None:
            continue
        k = key(a)
        votes[k] += w
        first_of.setdefault(k, i)
    total = sum(votes.values())
    if not votes or total <= 0:
        return None
    top = max(votes.values())
    tied = sorted(k for k, v in votes.items() if v == top)
    winner = tied[0] if len(tied) == 1 else rng.choice(tied)
    return Majority(first_of[winner], winner, votes, votes[winner] / total)


def elements(answer: str, key: Callable[[str], str]) -> dict[str, str]:
    """Identity (`key` of the lone element) -> canonical element, for one set answer.
    Elements whose identity is empty (nothing left after normalisation) are dropped."""
    out: dict[str, str] = {}
    for part in answer.split(_SEP):
        part = part.strip()
        if part and (k := key(part)):
            out.setdefault(k, part)
    return out


def threshold(usable_count: int, min_votes: int | None, min_share: float) -> int:
    """Votes an element needs: `min_votes`, else ceil(min_share × usable samples), at least 1."""
    if min_votes is not None:
        return min_votes
    # the epsilon keeps 0.3 × 10 (= 3.0000000000000004 in floats) at 3
    return max(1, math.ceil(min_share * usable_count - 1e-9))


def canonical_answer(kept: list[str], extract: Callable[[str], str | None]) -> str | None:
    """The kept elements in the scorer's own canonical form: extract from a synthesised
    final-answer line (or, for `extract: json`, a JSON answer), so the normalisation stays
    the scorer's."""
    line = extract(f"Final answer: {', '.join(kept) if kept else 'none'}")
    if line is not None:
        return line
    return extract(json.dumps({"answer": kept}))
