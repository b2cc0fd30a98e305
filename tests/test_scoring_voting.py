"""The shared voting rules: majority over answer identities with a seeded tie-break, and the
pieces of set_vote's per-element vote."""

from __future__ import annotations

import random

from tts_bench.scoring import make_scorer
from tts_bench.scoring.voting import canonical_answer, elements, majority, threshold
from tts_bench.suite import ScorerSpec

NUMERIC = make_scorer(ScorerSpec(type="numeric"))


def test_majority_votes_by_identity_and_points_at_the_first_such_answer():
    won = majority([None, "41", "42.0", "42", "41.5"], NUMERIC.key, random.Random(0))
    assert won is not None and won.index == 2 and won.votes[won.key] == 2
    assert won.confidence == 2 / 4


def test_majority_draws_from_the_rng_only_on_a_tie():
    rng = random.Random(5)
    state = rng.getstate()
    majority(["1", "1", "2"], NUMERIC.key, rng)
    assert rng.getstate() == state
    winners = {majority(["1", "2"], NUMERIC.key, random.Random(s)).index for s in range(20)}
    assert winners == {0, 1}
    # the same seed, the same winner: as the tie-break over the sorted tied keys
    tied = sorted({NUMERIC.key("1"), NUMERIC.key("2")})
    expected = ["1", "2"].index(random.Random(7).choice(tied))
    assert majority(["1", "2"], NUMERIC.key, random.Random(7)).index == expected


def test_majority_without_votes_is_none():
    assert majority([None, None], NUMERIC.key, random.Random(0)) is None
    assert majority(["1", "2"], NUMERIC.key, random.Random(0), weights=[0.0, 0.0]) is None
    won = majority(["1", "2", "2"], NUMERIC.key, random.Random(0), weights=[3.0, 1.0, 1.0])
    assert won is not None and won.index == 0 and won.confidence == 3 / 5


def test_set_pieces():
    ids = make_scorer(ScorerSpec(type="set_f1"))
    assert elements("C3, c7 ,,C3", ids.key) == {ids.key("C3"): "C3", ids.key("c7"): "c7"}
    assert threshold(10, None, 0.3) == 3 and threshold(1, None, 0.3) == 1
    assert threshold(9, 4, 0.3) == 4
    assert canonical_answer(["C7", "C3"], ids.extract) == ids.extract("Final answer: C7, C3")
    assert canonical_answer([], ids.extract) == ids.extract("Final answer: none")


def test_majority_pools_answers_equal_under_the_scorers_normalisation():
    answers = ["a-b", "ab", "A B!", "xy", "xy"]
    plain = make_scorer(ScorerSpec(type="exact"))
    won = majority(answers, plain.key, random.Random(0))
    assert won is not None and won.key == "xy" and won.votes[won.key] == 2  # "ab" split 3 ways
    letters = make_scorer(ScorerSpec(type="exact", normalize=["letters_only", "casefold"]))
    won = majority(answers, letters.key, random.Random(0))
    assert won is not None and (won.key, won.index, won.confidence) == ("ab", 0, 3 / 5)
    assert dict(won.votes) == {"ab": 3, "xy": 2}


def test_set_elements_pool_under_normalisation_and_empty_ones_drop():
    sc = make_scorer(ScorerSpec(type="set_f1", normalize=["strip_punct"]))
    assert elements("C-3, C3, c12", sc.key) == {"c3": "C-3", "c12": "c12"}
    assert elements("C3, -", make_scorer(ScorerSpec(type="set_f1")).key) == {
        "c3": "C3",
        "-": "-",
    }
    assert elements("C3, -", sc.key) == {"c3": "C3"}  # "-" normalises to nothing
