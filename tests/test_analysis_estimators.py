"""Exact pool estimators equal brute-force enumeration over all k-subsets (ties included)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_bench.analysis.estimators import (
    best_of_k,
    expected_max_of_k,
    majority_at_k,
    pass_at_k,
)

ANSWERS = st.sampled_from(["a", "b", "c", "d", None])


@st.composite
def pools(draw: st.DrawFn) -> tuple[list[str | None], list[float]]:
    """A pool of up to 8 answers with one value per distinct answer (F1-like or 0/1)."""
    answers = draw(st.lists(ANSWERS, min_size=1, max_size=8))
    binary = draw(st.booleans())
    value_of = {
        a: float(draw(st.sampled_from([0.0, 1.0])))
        if binary
        else draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
        for a in "abcd"
    }
    return answers, [0.0 if a is None else value_of[a] for a in answers]


def brute_majority(answers: list, values: list[float], k: int, none: str) -> float:
    total = 0.0
    subsets = list(itertools.combinations(range(len(answers)), k))
    for sub in subsets:
        votes = Counter(
            ("<nothing>" if answers[i] is None else answers[i])
            for i in sub
            if answers[i] is not None or none == "vote"
        )
        if not votes:
            continue
        top = max(votes.values())
        tied = [a for a, n in votes.items() if n == top]
        val = {("<nothing>" if answers[i] is None else answers[i]): values[i] for i in sub}
        total += sum(val[a] for a in tied) / len(tied)
    return total / len(subsets)


@settings(max_examples=150, deadline=None)
@given(pools(), st.sampled_from(["abstain", "vote"]))
def test_majority_equals_enumeration(pool: tuple[list, list[float]], none: str) -> None:
    answers, values = pool
    got = majority_at_k(answers, values, none=none)  # type: ignore[arg-type]
    want = [brute_majority(answers, values, k, none) for k in range(1, len(answers) + 1)]
    np.testing.assert_allclose(got, want, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=9))
def test_majority_at_2_equals_at_1(answers: list[str]) -> None:
    # random tie-break makes a 2-subset that disagrees a coin flip between its two answers
    curve = majority_at_k(answers, correct=[a == "a" for a in answers])
    if len(answers) >= 2:
        assert curve[1] == pytest.approx(curve[0], abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_pass_at_k_equals_enumeration(correct: list[bool]) -> None:
    m = len(correct)
    want = [
        np.mean([any(correct[i] for i in s) for s in itertools.combinations(range(m), k)])
        for k in range(1, m + 1)
    ]
    np.testing.assert_allclose(pass_at_k(correct), want, atol=1e-12)
    np.testing.assert_allclose(expected_max_of_k(np.array(correct, float)), want, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=9))
def test_expected_max_equals_enumeration(lat: list[float]) -> None:
    m = len(lat)
    want = [
        np.mean([max(lat[i] for i in s) for s in itertools.combinations(range(m), k)])
        for k in range(1, m + 1)
    ]
    np.testing.assert_allclose(expected_max_of_k(lat), want, rtol=1e-10, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([None, 0.1, 0.5, 0.9]), st.sampled_from([0.0, 0.5, 1.0])),
        min_size=1,
        max_size=8,
    )
)
def test_best_of_k_equals_enumeration(pool: list[tuple[float | None, float]]) -> None:
    scores = [s for s, _ in pool]
    values = [v for _, v in pool]
    m = len(pool)

    def pick(sub: tuple[int, ...]) -> float:
        key = [-np.inf if scores[i] is None else scores[i] for i in sub]
        top = max(key)
        tied = [i for i, s in zip(sub, key, strict=True) if s == top]
        return float(np.mean([values[i] for i in tied]))  # uniform tie-break

    want = [
        np.mean([pick(s) for s in itertools.combinations(range(m), k)]) for k in range(1, m + 1)
    ]
    np.testing.assert_allclose(best_of_k(scores, values), want, atol=1e-12)


def test_majority_examples() -> None:
    # 3 correct "a", 2 "b", 2 distinct wrong: all-of-pool vote is certain
    answers = ["a", "a", "a", "b", "b", "c", "d"]
    curve = majority_at_k(answers, correct=[a == "a" for a in answers])
    assert curve[0] == pytest.approx(3 / 7)
    assert curve[-1] == pytest.approx(1.0)
    # lumping the wrong answers into one class would make "wrong" win the full pool
    lumped = majority_at_k(["a"] * 3 + ["x"] * 4, correct=[True] * 3 + [False] * 4)
    assert lumped[-1] == 0.0
    # None never wins: abstaining leaves a lone correct sample as the winner
    assert majority_at_k([None, None, "a"], correct=[0, 0, 1])[-1] == 1.0
    assert majority_at_k([None, None, "a"], correct=[0, 0, 1], none="vote")[-1] == 0.0


def test_majority_falls_on_hard_items() -> None:
    # right 40% of the time, wrong answers concentrated: voting hurts (Chen et al. 2024)
    answers = ["a"] * 4 + ["b"] * 6
    curve = majority_at_k(answers, correct=[a == "a" for a in answers])
    assert curve[-1] < curve[0]


def test_batched_best_of_k_equals_per_pool() -> None:
    from tts_bench.analysis.curves import _best_of_k_rows
    from tts_bench.analysis.estimators import max_weights

    rng = np.random.default_rng(4)
    scores = rng.choice([0.1, 0.5, 0.9, -np.inf], size=(50, 7))
    values = rng.choice([0.0, 0.5, 1.0], size=(50, 7))
    got = _best_of_k_rows(scores, values, max_weights(7))
    for row in range(50):
        sc = [None if np.isinf(s) else s for s in scores[row]]
        np.testing.assert_allclose(got[row], best_of_k(sc, values[row]), atol=1e-12)
