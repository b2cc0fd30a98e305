"""set_vote pools: the per-element vote curve equals brute force over every k-subset (the
strategy's own rule), sampled subsets stay close and seeded, and on the contracts suite the
curve at the full pool equals the records' own scores."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from tts_bench import runner
from tts_bench.analysis import summarize
from tts_bench.analysis.setvote import MAX_SUBSETS, SetVoter
from tts_bench.scoring import make_scorer
from tts_bench.suite import ScorerSpec, load

SCORER = make_scorer(ScorerSpec(type="set_f1"))


def brute(answers: list, target: str, k: int, min_votes: int | None, min_share: float) -> float:
    """Mean over every k-subset of the scorer's F1 of the per-element vote, written out."""
    vals = []
    for sub in combinations(answers, k):
        usable = [a for a in sub if a is not None]
        if not usable:
            vals.append(0.0)  # no answer
            continue
        need = min_votes or max(1, math.ceil(min_share * len(usable) - 1e-9))
        votes = Counter(e.strip() for a in usable for e in a.split(",") if e.strip())
        kept = [e for e, n in votes.items() if n >= need]
        vals.append(SCORER.score(", ".join(kept), target).value)
    return float(np.mean(vals))


POOL = ["3, 7", "3, 7, 12", None, "3, 12", "", "3", "C5, 7", "12"]


@pytest.mark.parametrize(
    "knobs", [{"min_share": 0.3}, {"min_share": 0.5}, {"min_votes": 2}], ids=str
)
@pytest.mark.parametrize("target", ["3, 7, 12", "3", ""])
def test_exact_curve_equals_brute_force(knobs: dict, target: str) -> None:
    voter = SetVoter(SCORER, knobs)
    curve, prefix, sampled = voter.curves(POOL, target, "item-1")
    assert sampled == []  # C(8, k) <= 70: every subset enumerated
    for k in range(1, len(POOL) + 1):
        ref = brute(POOL, target, k, knobs.get("min_votes"), knobs.get("min_share", 0.3))
        assert curve[k - 1] == pytest.approx(ref, abs=1e-12)
        first = brute(POOL[:k], target, k, knobs.get("min_votes"), knobs.get("min_share", 0.3))
        assert prefix[k - 1] == pytest.approx(first, abs=1e-12)


def test_no_usable_sample_is_no_answer() -> None:
    curve, _, _ = SetVoter(SCORER, {}).curves([None, None], "", "x")
    assert curve.tolist() == [0.0, 0.0]  # not the empty set, which would score 1 here
    curve, _, _ = SetVoter(SCORER, {}).curves(["", None], "", "x")
    assert curve.tolist() == [0.5, 1.0]


def test_large_pools_use_seeded_random_subsets() -> None:
    rng = np.random.default_rng(3)
    ids = ["1", "2", "3", "4", "5"]
    pool = [", ".join(i for i in ids if rng.random() < 0.5) for _ in range(14)]
    voter = SetVoter(SCORER, {"min_share": 0.3})
    curve, _, sampled = voter.curves(pool, "1, 2, 3", "item-7")
    assert sampled == [k for k in range(1, 15) if math.comb(14, k) > MAX_SUBSETS] == [6, 7, 8]
    for k in (5, 7):  # exact at 5 (2002 subsets), sampled at 7 (3432)
        assert curve[k - 1] == pytest.approx(brute(pool, "1, 2, 3", k, None, 0.3), abs=0.02)
    again, _, _ = voter.curves(pool, "1, 2, 3", "item-7")
    assert np.array_equal(curve, again)


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    suite = load(ROOT / "suites" / "contracts.yaml")
    suite.configs = [c for c in suite.configs if c.name in ("single", "clause_vote")]
    out: Path = tmp_path_factory.mktemp("contracts")
    result = runner.run(suite, out_dir=out, run_id="cv", use_cache=False, limit=80)
    assert result.status == "complete"
    return out / "cv"


def test_contracts_curve_at_the_full_pool_equals_the_records(contracts: Path) -> None:
    s = summarize(contracts, resamples=200)
    cv = next(c for c in s["configs"] if c["config"] == "clause_vote")
    recs = pd.read_json(contracts / "records.jsonl", lines=True)
    recs = recs[(recs.config == "clause_vote") & recs.correct.notna()]
    sat = cv["saturation"]
    assert sat["selector"] == "set_vote" and sat["pool_size"] == 9
    curve = sat["curves"]["set_vote"]
    assert curve["sampled_ks"] == [] and "exact" in curve["note"]
    # at k = M the only subset is the pool and the rule has no random tie-break
    assert curve["mean"][-1] == pytest.approx(recs.score.mean(), abs=1e-9)
    assert cv["accuracy"]["value"] == pytest.approx(curve["mean"][-1], abs=1e-9)
    # whole-set majority understates the strategy on the same pools
    assert sat["curves"]["majority"]["mean"][-1] < curve["mean"][-1] - 0.02
    for row in cv["adaptive"]:  # the replay's answer is the per-element vote too
        assert row["accuracy_full"] == pytest.approx(recs.score.mean(), abs=1e-9)
    front = {p["label"]: p for p in s["frontier"]}
    assert front["clause_vote@5"]["accuracy"] == pytest.approx(curve["mean"][4], abs=1e-9)
