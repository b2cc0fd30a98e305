"""The built-in generators: seeded, well-formed, stratified, and never leaking the answer."""

from __future__ import annotations

import pytest

from tts_bench.data.builtin import GENERATORS, generate
from tts_bench.errors import UserError
from tts_bench.sim import tasks_arithmetic


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_seeded_and_unique(name):
    a = generate(name, {"size": 60, "seed": 4})
    assert a == generate(name, {"size": 60, "seed": 4})
    assert a != generate(name, {"size": 60, "seed": 5})
    assert len({r["id"] for r in a}) == 60
    assert all(r["question"] and r["answer"] not in (None, "", []) for r in a)


def test_arithmetic_strata_and_truth():
    rows = generate("arithmetic", {"size": 300, "seed": 1})
    assert {r["difficulty"] for r in rows} == {"easy", "medium", "hard"}
    assert {r["steps"] for r in rows} == set(range(2, 11))
    for r in rows:
        prob = tasks_arithmetic.parse(r["question"])
        # The simulator reads the same number of steps, and the problem's own arithmetic
        # gives the generator's answer: the phrasings are unambiguous.
        assert prob is not None and prob.steps == r["steps"]
        assert abs(prob.truth()[-1] - float(r["answer"])) < 1e-9


def test_answers_are_not_in_the_prompts():
    for r in generate("knowledge", {"size": 100, "seed": 1}):
        assert "Answer with the letter" in r["question"] and r["answer"] in "ABCD"
        assert f"Answer: {r['answer']}" not in r["question"]
    for r in generate("contracts", {"size": 40, "seed": 1}):
        assert "risk" in r["question"] and r["subtlety"] in ("obvious", "subtle")
    for r in generate("tickets", {"size": 40, "seed": 1}):
        # Every category is listed, so naming the answer in the prompt reveals nothing.
        assert all(c in r["question"] for c in ("billing", "technical", "account", "shipping"))


def test_bad_params_are_user_errors():
    with pytest.raises(UserError, match="unknown builtin"):
        generate("nope", {})
    with pytest.raises(UserError, match="unknown parameter"):
        generate("arithmetic", {"sizes": 3})
    with pytest.raises(UserError, match="integer"):
        generate("arithmetic", {"size": "ten"})
    with pytest.raises(UserError):
        generate("arithmetic", {"min_steps": 8, "max_steps": 3})
