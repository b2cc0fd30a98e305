"""Adaptive consistency against fixed n=16 self-consistency on the simulator's arithmetic
suite (all strata, 300 items, fixed seeds), through the real runner."""

from __future__ import annotations

import pytest
from test_strategies_acceptance import T, check_against_calls, run, suite

ADAPTIVE = [
    {"name": "sc16", "strategy": "self_consistency", "n": 16, "temperature": T},
    {"name": "ada", "strategy": "adaptive_consistency", "n_max": 16, "temperature": T},
]


@pytest.fixture(scope="module")
def adaptive_run(tmp_path_factory):
    return run(suite(ADAPTIVE, 300, 2), tmp_path_factory.mktemp("runs"))


def test_adaptive_consistency_saves_samples_at_equal_accuracy(adaptive_run):
    records, calls = adaptive_run
    by = records.groupby("config")
    acc = by["correct"].mean()
    drawn = by["n_calls"].mean()
    ada = records[records["config"] == "ada"]
    assert (ada["info"].map(lambda i: i["stopped_at"]) == ada["n_calls"]).all()
    assert (ada["samples"].map(len) == ada["n_calls"]).all()  # the pool actually drawn is kept
    assert abs(acc["ada"] - acc["sc16"]) <= 0.01 + 1e-9  # within one point
    assert drawn["ada"] <= 0.8 * drawn["sc16"]
    assert check_against_calls(records, calls) == 3 * 300


def test_adaptive_consistency_uses_at_most_half_the_samples(adaptive_run):
    records, _ = adaptive_run
    drawn = records.groupby("config")["n_calls"].mean()
    assert drawn["ada"] <= 0.5 * drawn["sc16"]


class _Scripted:
    """A client whose sample i answers script[i] (None: a reply with no extractable answer)."""

    def __init__(self, script: list[str | None]) -> None:
        self.script = script

    async def generate(self, spec, messages, *, sample_index: int = 0):
        from tts_bench.llm.types import Completion, Usage

        a = self.script[sample_index]
        return Completion(
            text=f"Final answer: {a}" if a is not None else "I cannot tell.",
            finish_reason="stop",
            usage=Usage(input_tokens=10, output_tokens=5),
            cost_usd=1e-6,
            latency_s=0.1,
            model=spec.model,
            simulated=True,
        )


def _scripts(k: int) -> list[list[str | None]]:
    import numpy as np

    rng = np.random.default_rng(17)
    out = [[None] * k, ["7"] * k, [None, None, "7"] + [None] * (k - 3)]
    for none in (0.0, 0.2, 0.5, 0.8):
        for _ in range(12):
            out.append(
                [
                    None if rng.random() < none else str(rng.choice([7, 8, 9], p=[0.6, 0.3, 0.1]))
                    for _ in range(k)
                ]
            )
    return out


def test_live_rule_and_replay_stop_at_the_same_sample():
    # the live strategy (one sample per batch for beta/majority, windows for esc) and the
    # offline replay in stored order read the same function: same stop on every script
    import numpy as np
    from strategies_fake import make_ctx
    from strategies_fake import run as run_solve

    from tts_bench.analysis.adaptive import ABSTAIN_WINDOW, replay
    from tts_bench.analysis.curves import Pools
    from tts_bench.strategies import resolve

    k = 16
    scripts = _scripts(k)
    grid = [("esc", {"window": w}, "window", w) for w in (2, 3, 4, 5, 8)]
    grid += [("beta", {"threshold": t}, "threshold", t) for t in (0.8, 0.9, 0.95)]
    grid += [("majority", {"share": s}, "threshold", s) for s in (0.6, 0.7, 1.0)]
    checked = 0
    for script in scripts:
        keys = [None if a is None else str(float(a)) for a in script]
        nan = np.full((1, k), np.nan)
        vals = np.array([[1.0 if a == "7" else 0.0 for a in script]])
        pools = Pools(k, (k, k), np.ones(1, bool), nan, nan, None, None, nan, [keys], vals)
        rows = replay(pools, orders=0)
        for rule, knobs, name, value in grid:
            batch = {} if rule == "esc" else {"batch": 1, "window": ABSTAIN_WINDOW}
            solve = resolve(
                "adaptive_consistency", {"n_max": k, "rule": rule, **knobs, **batch}, "t"
            )
            res, _ = run_solve(solve, make_ctx("4 9", client=_Scripted(script)))
            want = "share" if rule == "majority" else rule
            row = next(r for r in rows if r["rule"] == want and r[name] == value)
            assert res.info["stopped_at"] == row["in_pool_order"]["mean_samples"], (
                rule,
                value,
                script,
            )
            checked += 1
    assert checked == len(scripts) * len(grid)
