"""The simulated models show the qualitative facts the built-in suites are meant to show.

Uses simulate() directly on generated items, with fixed seeds and margins well outside the
sampling noise of the item counts used.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter

import pytest

from tts_bench import prompts
from tts_bench.data.builtin import generate
from tts_bench.errors import UserError
from tts_bench.sim import SimResult, is_sim, list_models, price, simulate

FORM = "\nEnd with 'Final answer: <number>'."


def _msgs(question: str, cot: bool = False, form: str = FORM) -> list[dict[str, str]]:
    text = question + form + (f"\n{prompts.COT_INSTRUCTION}" if cot else "")
    return [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": text},
    ]


def _final(text: str) -> str | None:
    m = re.search(r"Final answer:\s*(\S+)", text)
    return m.group(1).rstrip(".") if m else None


def _num_eq(a: str | None, b: str) -> bool:
    try:
        return a is not None and abs(float(a) - float(b)) < 1e-6
    except ValueError:
        return False


@pytest.fixture(scope="module")
def hard() -> list[dict]:
    rows = generate("arithmetic", {"size": 900, "seed": 21})
    return [r for r in rows if r["difficulty"] == "hard"][:150]


def _acc(rows, model="sim/small", cot=False, temperature=0.0, n=1, params=None) -> float:
    hits = 0
    for r in rows:
        answers = [
            _final(
                simulate(
                    model,
                    _msgs(r["question"], cot),
                    temperature=temperature,
                    max_tokens=8192,
                    sample_index=i,
                    params=params,
                ).text
            )
            for i in range(n)
        ]
        votes = Counter(a for a in answers if a is not None)
        top = votes.most_common(1)[0][0] if votes else None
        hits += _num_eq(top, r["answer"])
    return hits / len(rows)


def test_api_surface():
    assert is_sim("sim/small") and not is_sim("openai/gpt-4o-mini")
    assert {"sim/small", "sim/large", "sim/reasoner"} <= set(list_models())
    small, large = price("sim/small"), price("sim/large")
    assert small[0] < large[0] and small[1] < large[1]
    # The simulator is never handed a target: nothing in its signature could carry one.
    params = set(inspect.signature(simulate).parameters)
    assert not params & {"target", "answer", "gold", "item"}


def test_cot_beats_plain_on_hard(hard):
    plain, cot = _acc(hard), _acc(hard, cot=True)
    assert cot >= plain + 0.12, (plain, cot)


def test_plain_errors_grow_faster_with_steps_than_cot():
    rows = generate("arithmetic", {"size": 900, "seed": 22})
    easy = [r for r in rows if r["difficulty"] == "easy"][:150]
    hard = [r for r in rows if r["difficulty"] == "hard"][:150]
    drop_plain = _acc(easy) - _acc(hard)
    drop_cot = _acc(easy, cot=True) - _acc(hard, cot=True)
    assert drop_plain > drop_cot + 0.15, (drop_plain, drop_cot)


def test_t0_samples_identical_and_t_above_zero_varies(hard):
    msgs = _msgs(hard[0]["question"], cot=True)
    at0 = {
        simulate("sim/small", msgs, temperature=0.0, max_tokens=512, sample_index=i).text
        for i in range(5)
    }
    assert len(at0) == 1
    warm = {
        simulate("sim/small", msgs, temperature=0.8, max_tokens=512, sample_index=i).text
        for i in range(5)
    }
    assert len(warm) > 1


def test_self_consistency_gains_at_t_above_zero_not_at_t0(hard):
    rows = hard[:120]
    one, nine = _acc(rows, cot=True, temperature=0.7), _acc(rows, cot=True, temperature=0.7, n=9)
    assert nine >= one + 0.08, (one, nine)
    assert _acc(rows, cot=True, n=5) == _acc(rows, cot=True, n=1)


def test_wrong_paths_disagree(hard):
    # Different sampled paths reach DIFFERENT wrong answers, so a vote can work.
    distinct_wrong = 0
    for r in hard[:60]:
        answers = [
            _final(
                simulate(
                    "sim/small",
                    _msgs(r["question"], True),
                    temperature=0.7,
                    max_tokens=512,
                    sample_index=i,
                ).text
            )
            for i in range(9)
        ]
        distinct_wrong += len({a for a in answers if a is not None and not _num_eq(a, r["answer"])})
    assert distinct_wrong / 60 > 1.5


def test_model_ladder(hard):
    rows = hard[:120]
    small, large = _acc(rows, cot=True), _acc(rows, "sim/large", cot=True)
    low = _acc(rows, "sim/reasoner", params={"reasoning_effort": "low"})
    high = _acc(rows, "sim/reasoner", params={"reasoning_effort": "high"})
    assert large > small + 0.1, (small, large)
    assert high > low + 0.05 and high > large, (low, high, large)


def test_reasoner_hides_reasoning_and_effort_costs_tokens(hard):
    msgs = _msgs(hard[0]["question"])
    lo = simulate(
        "sim/reasoner", msgs, temperature=0, max_tokens=8192, params={"reasoning_effort": "low"}
    )
    hi = simulate(
        "sim/reasoner", msgs, temperature=0, max_tokens=8192, params={"reasoning_effort": "high"}
    )
    assert 0 < lo.reasoning_tokens < hi.reasoning_tokens
    assert hi.output_tokens < 50 and lo.latency_s < hi.latency_s
    small = simulate("sim/small", msgs, temperature=0, max_tokens=8192)
    assert small.reasoning_tokens == 0
    with pytest.raises(UserError):
        simulate(
            "sim/reasoner", msgs, temperature=0, max_tokens=64, params={"reasoning_effort": "max"}
        )


def test_cot_output_grows_with_steps():
    rows = generate("arithmetic", {"size": 300, "seed": 4})
    by_steps: dict[int, list[int]] = {}
    for r in rows:
        res = simulate("sim/small", _msgs(r["question"], True), temperature=0, max_tokens=2048)
        by_steps.setdefault(r["steps"], []).append(res.output_tokens)
    mean = {k: sum(v) / len(v) for k, v in by_steps.items()}
    assert mean[10] > 2.5 * mean[2]


def test_truncation_at_small_max_tokens(hard):
    res = simulate("sim/small", _msgs(hard[0]["question"], True), temperature=0, max_tokens=20)
    assert isinstance(res, SimResult)
    assert res.finish_reason == "length" and res.output_tokens <= 20
    assert "Final answer" not in res.text
    full = simulate("sim/small", _msgs(hard[0]["question"], True), temperature=0, max_tokens=2048)
    assert full.finish_reason == "stop" and full.text.startswith(res.text)


def test_deterministic_and_seed_sensitive(hard):
    msgs = _msgs(hard[1]["question"], True)
    a = simulate("sim/large", msgs, temperature=0.7, max_tokens=512, sample_index=3, seed=1)
    b = simulate("sim/large", msgs, temperature=0.7, max_tokens=512, sample_index=3, seed=1)
    assert a == b
    others = {
        simulate("sim/large", msgs, temperature=0.7, max_tokens=512, sample_index=3, seed=s).text
        for s in range(8)
    }
    assert len(others) > 1


def test_user_profiles_and_errors():
    custom = {"clumsy": {"base": "small", "cot_step_error": 0.3, "price_input": 9.0}}
    assert price("sim/clumsy", custom)[0] == 9.0
    rows = generate("arithmetic", {"size": 200, "seed": 5})
    good = sum(
        _num_eq(
            _final(
                simulate(
                    "sim/clumsy",
                    _msgs(r["question"], True),
                    temperature=0,
                    max_tokens=512,
                    profiles=custom,
                ).text
            ),
            r["answer"],
        )
        for r in rows
    )
    assert good / len(rows) < 0.5
    with pytest.raises(UserError, match="unknown profile key"):
        price("sim/x", {"x": {"base": "small", "cot_step_eror": 0.3}})
    with pytest.raises(UserError, match="unknown simulated model"):
        simulate("sim/nope", _msgs("1+1?"), temperature=0, max_tokens=10)


def test_knowledge_more_samples_do_not_help_unknown_facts():
    rows = generate("knowledge", {"size": 300, "seed": 9})
    low = [r for r in rows if r["popularity"] == "low"]
    high = [r for r in rows if r["popularity"] == "high"]
    form = "\nEnd with 'Final answer: <letter>'."

    def stats(group):
        one = nine = agree = 0.0
        for r in group:
            msgs = _msgs(r["question"], form=form)
            ans = [
                _final(
                    simulate(
                        "sim/small", msgs, temperature=0.8, max_tokens=256, sample_index=i
                    ).text
                )
                for i in range(9)
            ]
            top, cnt = Counter(ans).most_common(1)[0]
            one += ans[0] == r["answer"]
            nine += top == r["answer"]
            agree += cnt / 9
        return one / len(group), nine / len(group), agree / len(group)

    lo1, lo9, lo_agree = stats(low)
    hi1, hi9, hi_agree = stats(high)
    assert lo9 <= lo1 + 0.05, (lo1, lo9)  # voting does not conjure missing facts
    assert hi1 > lo1 + 0.3
    assert lo_agree < hi_agree - 0.15, (lo_agree, hi_agree)


def test_contract_votes_cut_misses():
    rows = [r for r in generate("contracts", {"size": 100, "seed": 2}) if r["subtlety"] == "subtle"]
    form = "\nEnd with 'Final answer: <comma-separated clause numbers>'."
    miss1 = miss_vote = total = 0
    for r in rows:
        msgs = _msgs(r["question"], cot=True, form=form)
        sets = []
        for i in range(7):
            text = simulate(
                "sim/small", msgs, temperature=0.7, max_tokens=1024, sample_index=i
            ).text
            sets.append(
                set(re.findall(r"\d+", (_final(text) and text.rsplit("Final answer:", 1)[1]) or ""))
            )
        counts = Counter(x for s in sets for x in s)
        vote = {x for x, c in counts.items() if c >= 3}
        gold = set(r["answer"])
        total += len(gold)
        miss1 += len(gold - sets[0])
        miss_vote += len(gold - vote)
    assert miss_vote < 0.75 * miss1, (miss1, miss_vote, total)


def test_tickets_scaling_buys_nothing():
    rows = generate("tickets", {"size": 200, "seed": 3})
    form = "\nEnd with 'Final answer: <category>'."
    one = five = 0
    for r in rows:
        msgs = _msgs(r["question"], form=form)
        ans = [
            _final(
                simulate("sim/small", msgs, temperature=0.7, max_tokens=128, sample_index=i).text
            )
            for i in range(5)
        ]
        one += ans[0] == r["answer"]
        five += Counter(ans).most_common(1)[0][0] == r["answer"]
    assert one / len(rows) > 0.85
    assert five - one <= 0.04 * len(rows)


def test_format_violations_show_as_labels(tmp_path):
    """Most violations leave nothing to extract, so the runner labels them; with a 20%
    violation rate over 300 demo items, well over 8% of records are format violations."""
    from tests.conftest import demo_suite
    from tts_bench import runner
    from tts_bench.suite import parse

    data = demo_suite(
        sim_profiles={"sloppy": {"base": "small", "format_violation_rate": 0.2}},
        defaults={"model": "sim/sloppy", "temperature": 0.0, "max_tokens": 512},
        configs=[{"name": "single", "strategy": "single"}, {"name": "cot", "strategy": "cot"}],
        gates=[],
    )
    data["dataset"]["sample"] = {"size": 300, "by": ["difficulty"], "seed": 0}
    result = runner.run(parse(data), out_dir=tmp_path, run_id="fv", use_cache=False)
    for config in ("single", "cot"):
        labels = [r["failure"] for r in result.records if r["config"] == config]
        assert len(labels) == 300
        share = labels.count("format_violation") / len(labels)
        assert 0.08 <= share <= 0.2, (config, share)


def test_spelled_out_numbers_are_digit_free():
    from tts_bench.scoring.extract import numeric_auto
    from tts_bench.sim.text import spelled

    assert spelled("42") == "forty-two"
    assert spelled("-1205.5") == "minus one thousand, two hundred and five point five"
    assert spelled("billing") is None
    for value in ("0", "7", "19", "100", "999", "123456", "-3.25"):
        words = spelled(value)
        assert words and not re.search(r"\d", words)
        assert numeric_auto(f"It ends up at {words}.") is None
