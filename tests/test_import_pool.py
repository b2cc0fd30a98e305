"""`pool-jsonl` imports: the records a native run would write, paired configs in one run
directory, and the analysis' maj@k, pass@k and adaptive replay equal to brute force over the
source file's own answers."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from tts_bench.importers import import_pools
from tts_bench.store import load_calls, load_records, read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "import"
K = 8  # pool size of the generated file (C(8, k) subsets stay small for brute force)


def make_pool(path: Path, n_items: int = 40, k: int = K, seed: int = 3) -> dict[str, list]:
    """A pool file of raw completions; returns item id -> the answers written (None = none)."""
    rng = random.Random(seed)
    truth: dict[str, list] = {}
    with path.open("w") as fh:
        for i in range(n_items):
            target = rng.randint(10, 99)
            p = rng.choice([0.2, 0.4, 0.6, 0.8])
            answers, texts = [], []
            for _ in range(k):
                u = rng.random()
                if u < 0.1:
                    a, t = None, "I am not sure how to do this."
                else:
                    a = target if rng.random() < p else target + rng.choice([1, 2, 3])
                    t = f"Step one... so the total is {a}.\nFinal answer: {a}"
                answers.append(None if a is None else str(a))
                texts.append(t)
            truth[f"q{i}"] = [target, answers]
            row = {
                "id": f"q{i}",
                "target": str(target),
                "samples": texts,
                "strata": {"level": "hard" if p < 0.5 else "easy"},
            }
            fh.write(json.dumps(row) + "\n")
    return truth


# ---- brute force over every k-subset, straight from the generated answers ---------------
def brute_majority(answers: list, target: str, k: int) -> float:
    credit = []
    for sub in itertools.combinations(answers, k):
        votes = [a for a in sub if a is not None]
        if not votes:
            credit.append(0.0)
            continue
        counts = {a: votes.count(a) for a in set(votes)}
        top = max(counts.values())
        tied = [a for a, c in counts.items() if c == top]
        credit.append((target in tied) / len(tied))
    return float(np.mean(credit))


def brute_pass(answers: list, target: str, k: int) -> float:
    return float(np.mean([target in sub for sub in itertools.combinations(answers, k)]))


def lead_credit(prefix: list, target: str) -> float:
    votes = [a for a in prefix if a is not None]
    if not votes:
        return 0.0
    counts = {a: votes.count(a) for a in set(votes)}
    top = max(counts.values())
    tied = [a for a, c in counts.items() if c == top]
    return (target in tied) / len(tied)


def brute_replay(answers: list, target: str, rule: str, knob: float) -> tuple[int, float]:
    """(samples read, expected credit) of a stopping rule read one sample at a time."""
    from scipy.stats import beta

    from tts_bench.analysis.adaptive import ABSTAIN_WINDOW, MIN_SHARE_SAMPLES

    k = len(answers)
    for t in range(1, k + 1):
        prefix = answers[:t]
        votes = [a for a in prefix if a is not None]
        counts = sorted((votes.count(a) for a in set(votes)), reverse=True) + [0, 0]
        if rule == "esc":
            w = int(knob)
            win = prefix[-w:]
            stop = t % w == 0 and all(a == win[0] for a in win)  # all agree or all abstain
        elif rule == "beta":
            stop = counts[0] > 0 and beta.sf(0.5, counts[0] + 1, counts[1] + 1) >= knob
        else:
            stop = bool(votes) and counts[0] / len(votes) >= knob and t >= MIN_SHARE_SAMPLES
        silent = t >= ABSTAIN_WINDOW and all(a is None for a in prefix[-ABSTAIN_WINDOW:])
        stop = stop or (rule != "esc" and silent)  # abstentions in a row stop beta and share
        if stop or t == k:
            return t, lead_credit(prefix, target)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    truth = make_pool(d / "pool.jsonl")
    res = import_pools(
        d / "pool.jsonl", fmt="pool-jsonl", out=d / "run", scorer="numeric", config="sc"
    )
    return res, truth


def test_records_look_like_a_native_pooled_run(imported):
    res, truth = imported
    assert (res.config, res.n_items, res.pool_size, res.warnings) == ("sc", 40, K, [])
    recs = {r["item_id"]: r for r in load_records(res.run_dir)}
    assert set(recs) == set(truth)
    for item_id, (target, answers) in truth.items():
        r = recs[item_id]
        assert (
            r["strategy"] == "imported" and r["status"] == "ok" and r["info"] == {"imported": True}
        )
        assert r["n_calls"] == K and len(r["samples"]) == K
        assert [s["answer"] for s in r["samples"]] == answers  # unextractable kept, never dropped
        for s, a in zip(r["samples"], answers, strict=True):
            assert s["correct"] is (a == str(target))
        votes = [a for a in answers if a is not None]
        counts = {a: votes.count(a) for a in set(votes)}
        top = max(counts.values())
        leaders = [a for a, c in counts.items() if c == top]
        assert r["answer"] in leaders  # the majority, ties broken at random
        assert r["confidence"] == pytest.approx(top / len(votes))
        assert r["correct"] is (r["answer"] == str(target))
        # nothing in the file says cost, latency or tokens: unknown, never 0
        assert r["cost_usd"] is None and r["latency_s"] is None and r["input_tokens"] is None
        assert r["wall_s"] is None
    m = read_manifest(res.run_dir)
    assert m["status"] == "imported" and m["baseline"] == "sc"
    assert m["provenance"]["sc"]["format"] == "pool-jsonl"
    assert len(m["provenance"]["sc"]["sha256"]) == 64
    assert m["suite"]["scorer"]["type"] == "numeric"
    assert m["suite"]["dataset"]["fields"]["strata"] == ["level"]
    assert len(load_calls(res.run_dir)) == 40 * K


def test_tie_break_is_seeded(tmp_path):
    row = {"id": "t", "target": "1", "samples": ["Final answer: 1", "Final answer: 2"]}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    got = set()
    for i in range(2):
        res = import_pools(
            tmp_path / "p.jsonl", fmt="pool-jsonl", out=tmp_path / f"r{i}", scorer="numeric"
        )
        rec = load_records(res.run_dir)[0]
        got.add(rec["answer"])
        assert rec["confidence"] == 0.5
    assert len(got) == 1  # the same answer both times


def test_analysis_curves_equal_brute_force(imported):
    from tts_bench.analysis.curves import build_pools
    from tts_bench.analysis.load import load_run

    res, truth = imported
    data = load_run(res.run_dir)
    pools = build_pools(data, data.index("sc"))
    assert pools is not None and pools.k == K and pools.mask.all()
    for i, item_id in enumerate(data.items):
        target, answers = truth[item_id]
        for k in range(1, K + 1):
            assert pools.majority[i, k - 1] == pytest.approx(
                brute_majority(answers, str(target), k)
            )
            assert pools.pass_at_k[i, k - 1] == pytest.approx(brute_pass(answers, str(target), k))


def test_adaptive_replay_equals_brute_force(imported):
    from tts_bench.analysis.adaptive import replay
    from tts_bench.analysis.curves import build_pools
    from tts_bench.analysis.load import load_run

    res, truth = imported
    data = load_run(res.run_dir)
    rows = replay(build_pools(data, data.index("sc")), orders=0)  # the stored order
    assert {r["rule"] for r in rows} == {"esc", "beta", "share"}
    for row in rows:
        knob = row.get("window", row.get("threshold"))
        got = [brute_replay(truth[i][1], str(truth[i][0]), row["rule"], knob) for i in data.items]
        assert row["mean_samples"] == pytest.approx(np.mean([g[0] for g in got]))
        assert row["accuracy"] == pytest.approx(np.mean([g[1] for g in got]))


def test_second_import_adds_a_paired_config(tmp_path):
    make_pool(tmp_path / "a.jsonl", n_items=10, seed=1)
    make_pool(tmp_path / "b.jsonl", n_items=12, seed=2)  # two items the first lacks
    first = import_pools(
        tmp_path / "a.jsonl",
        fmt="pool-jsonl",
        out=tmp_path / "runs",
        scorer="numeric",
        run_id="cmp",
        config="small",
    )
    assert first.run_dir == tmp_path / "runs" / "cmp"
    # adding: the run directory itself as --out; the run's scorer is reused
    second = import_pools(tmp_path / "b.jsonl", fmt="pool-jsonl", out=first.run_dir, config="big")
    assert second.run_dir == first.run_dir
    assert any("2 items of config 'big' are not in config 'small'" in w for w in second.warnings)
    m = read_manifest(first.run_dir)
    assert [c["name"] for c in m["suite"]["configs"]] == ["small", "big"]
    assert m["baseline"] == "small" and m["item_count"] == 12
    assert set(m["provenance"]) == {"small", "big"}
    recs = load_records(first.run_dir)
    assert sorted(r["config"] for r in recs).count("big") == 12
    from tts_bench.analysis.load import load_run

    data = load_run(first.run_dir)
    assert data.configs == ["small", "big"] and len(data.items) == 12
    assert data.present.sum() == 22


def test_costs_latency_tokens_from_sample_objects(tmp_path):
    samples = [
        {
            "text": "Final answer: 5",
            "cost_usd": 0.01,
            "latency_s": 1.5,
            "input_tokens": 10,
            "output_tokens": 20,
            "reasoning_tokens": 0,
            "score": 7,
        },
        {
            "answer": "5.0",
            "cost_usd": 0.02,
            "latency_s": 2.5,
            "input_tokens": 10,
            "output_tokens": 30,
            "reasoning_tokens": 4,
            "finish_reason": "stop",
        },
        {
            "text": "partial",
            "cost_usd": 0.03,
            "latency_s": 0.5,
            "input_tokens": 10,
            "output_tokens": 99,
            "reasoning_tokens": 0,
            "finish_reason": "length",
        },
    ]
    rows = [
        {"id": "a", "target": 5, "samples": samples},
        {
            "id": "b",
            "target": 5,
            "samples": [
                dict(samples[0], cost_usd=None),
                samples[1],
                dict(samples[2], status="timeout"),
            ],
        },
    ]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = import_pools(tmp_path / "p.jsonl", fmt="pool-jsonl", out=tmp_path / "r", scorer="numeric")
    a, b = sorted(load_records(res.run_dir), key=lambda r: r["item_id"])
    assert a["cost_usd"] == pytest.approx(0.06) and a["latency_s"] == 2.5
    assert (a["input_tokens"], a["output_tokens"], a["reasoning_tokens"]) == (30, 149, 4)
    assert a["answer"] == "5" and a["correct"] is True and a["confidence"] == 1.0
    assert a["samples"][0]["score"] == 7.0 and a["samples"][2]["finish_reason"] == "length"
    assert a["samples"][2]["answer"] is None and a["samples"][2]["correct"] is False
    assert b["cost_usd"] is None  # one unknown cost: the sum is unknown, never a partial sum
    assert b["samples"][2]["status"] == "timeout" and b["samples"][2]["correct"] is None


def test_spec_maps_field_names(tmp_path):
    spec = FIXTURES / "spec.yaml"
    res = import_pools(
        FIXTURES / "mapped.jsonl", fmt="pool-jsonl", out=tmp_path / "r", scorer="choice", spec=spec
    )
    recs = {r["item_id"]: r for r in load_records(res.run_dir)}
    assert set(recs) == {"m1", "m2"}
    assert recs["m1"]["strata"] == {"level": "1"} and recs["m2"]["strata"] == {"level": "3"}
    assert recs["m1"]["answer"] == "B" and recs["m1"]["correct"] is True
    assert recs["m2"]["answer"] == "C" and recs["m2"]["correct"] is False
    assert recs["m2"]["failure"] == "wrong_answer"


def test_spec_reads_yes_no_as_field_names(tmp_path):
    # YAML 1.2 booleans, like the suite file: a column called `no` stays the string "no"
    from tts_bench.importers.common import load_spec

    (tmp_path / "spec.yaml").write_text("target: no\nstrata: [yes, on]\n")
    spec = load_spec(tmp_path / "spec.yaml")
    assert spec.target == "no" and spec.strata == ["yes", "on"]


def test_all_unextractable_is_a_format_violation(tmp_path):
    row = {"id": "x", "target": "3", "samples": ["no idea", "cannot say"]}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    res = import_pools(tmp_path / "p.jsonl", fmt="pool-jsonl", out=tmp_path / "r", scorer="numeric")
    (rec,) = load_records(res.run_dir)
    assert rec["answer"] is None and rec["correct"] is False
    assert rec["failure"] == "format_violation" and rec["status"] == "ok"
    assert len(rec["samples"]) == 2


def test_suite_gives_scorer_name_and_analysis(tmp_path):
    from tests.conftest import demo_suite, write_suite

    data = demo_suite(seed=11)
    data["analysis"] = {"epsilon": 2.5}
    suite = write_suite(tmp_path / "s.yaml", data)
    make_pool(tmp_path / "p.jsonl", n_items=5)
    res = import_pools(tmp_path / "p.jsonl", fmt="pool-jsonl", out=tmp_path / "r", suite=suite)
    m = read_manifest(res.run_dir)
    assert m["suite"]["name"] == data["name"] and m["seed"] == 11
    assert m["suite"]["scorer"]["type"] == "numeric"  # the demo suite's scorer
    assert m["suite"]["analysis"]["epsilon"] == 2.5
    recs = load_records(res.run_dir)
    assert any(r["correct"] for r in recs) and all(
        r["answer"] is None or r["answer"].isdigit() for r in recs
    )
