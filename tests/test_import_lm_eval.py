"""`lm-eval` imports: a samples file as `lm_eval --log_samples` writes it for a generate_until
task with `repeats: 4`, its repeats becoming the pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tts_bench.errors import UserError
from tts_bench.importers import import_pools
from tts_bench.store import load_records, read_manifest

REPEATS = 4
DOCS = [
    # (question, target, the four repeats' completions)
    (
        "Janet has 3 apples and buys 4.",
        "7",
        [
            "3 + 4 = 7. The answer is 7.",
            "She has 7.\nThe answer is 7.",
            "The answer is 8.",
            "The answer is 7.",
        ],
    ),
    (
        "A box holds 12 eggs; how many in 3 boxes?",
        "36",
        ["The answer is 36.", "The answer is 24.", "The answer is 24.", "I cannot tell."],
    ),
    (
        "What is 100 - 1?",
        "99",
        ["The answer is 99.", "The answer is 99.", "The answer is 99.", "The answer is 99."],
    ),
]


def write_lm_eval(dirpath: Path, *, filters: tuple[str, ...] = ("none",)) -> Path:
    """samples_<task>_<timestamp>.jsonl plus the results_*.json lm-eval writes beside it."""
    dirpath.mkdir(parents=True, exist_ok=True)
    path = dirpath / "samples_gsm8k_2024-05-01T12-00-00.123456.jsonl"
    lines = []
    for filt in filters:
        for doc_id, (q, target, reps) in enumerate(DOCS):
            lines.append(
                {
                    "doc_id": doc_id,
                    "doc": {"question": q, "answer": f"... #### {target}", "level": doc_id % 2},
                    "target": target,
                    "arguments": [
                        {
                            "gen_args_0": {
                                "arg_0": f"Question: {q}\nAnswer:",
                                "arg_1": {"until": ["Question:"]},
                            }
                        }
                    ],
                    "resps": [reps],  # one generate_until request, its `repeats` responses
                    "filtered_resps": [reps[0]],
                    "filter": filt,
                    "metrics": ["exact_match"],
                    "doc_hash": "x",
                    "prompt_hash": "y",
                    "target_hash": "z",
                    "exact_match": 1.0,
                }
            )
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    results = {
        "results": {"gsm8k": {}},
        "model_name": "EleutherAI/pythia-160m",
        "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m"},
    }
    (dirpath / "results_2024-05-01T12-00-00.123456.json").write_text(json.dumps(results))
    return path


def test_repeats_become_the_pool(tmp_path):
    src = write_lm_eval(tmp_path / "lm")
    spec = tmp_path / "spec.yaml"
    spec.write_text("strata: [level]\n")
    res = import_pools(src, fmt="lm-eval", out=tmp_path / "run", scorer="numeric", spec=spec)
    assert (res.n_items, res.pool_size, res.config) == (3, REPEATS, "pythia-160m")
    recs = {r["item_id"]: r for r in load_records(res.run_dir)}
    assert set(recs) == {"0", "1", "2"}
    assert [s["answer"] for s in recs["0"]["samples"]] == ["7", "7", "8", "7"]
    assert recs["0"]["answer"] == "7" and recs["0"]["correct"] is True
    assert recs["0"]["confidence"] == pytest.approx(0.75)
    # 24 wins 2-1 over the right answer; the unextractable repeat is kept
    assert [s["answer"] for s in recs["1"]["samples"]] == ["36", "24", "24", None]
    assert recs["1"]["answer"] == "24" and recs["1"]["failure"] == "wrong_answer"
    assert recs["2"]["confidence"] == 1.0 and recs["2"]["failure"] is None
    assert recs["1"]["strata"] == {"level": "1"}
    for r in recs.values():
        assert r["model"] == "EleutherAI/pythia-160m" and r["n_calls"] == REPEATS
        assert r["cost_usd"] is None and r["latency_s"] is None  # lm-eval logs neither
    m = read_manifest(res.run_dir)
    assert m["provenance"]["pythia-160m"]["format"] == "lm-eval"
    assert m["configs"][0]["n"] == [1, 2, 4]


def test_one_line_per_filter_is_read_once(tmp_path):
    src = write_lm_eval(tmp_path / "lm", filters=("maj@4", "take-first"))
    res = import_pools(src, fmt="lm-eval", out=tmp_path / "run", scorer="numeric", config="g")
    assert res.n_items == 3 and any("repeat a doc_id" in w for w in res.warnings)
    assert len(load_records(res.run_dir)) == 3


def test_one_list_per_repeat_is_read_the_same(tmp_path):
    src = write_lm_eval(tmp_path / "lm")
    rows = [json.loads(x) for x in src.read_text().splitlines()]
    for r in rows:
        r["resps"] = [[x] for x in r["resps"][0]]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = import_pools(src, fmt="lm-eval", out=tmp_path / "run", scorer="numeric")
    recs = {r["item_id"]: r for r in load_records(res.run_dir)}
    assert [s["answer"] for s in recs["1"]["samples"]] == ["36", "24", "24", None]


def test_loglikelihood_tasks_are_refused(tmp_path):
    line = {
        "doc_id": 0,
        "doc": {},
        "target": 1,
        "resps": [[[-1.2, False]], [[-0.3, True]]],
        "filtered_resps": [[-1.2, False], [-0.3, True]],
    }
    src = tmp_path / "samples_mmlu_x.jsonl"
    src.write_text(json.dumps(line) + "\n")
    with pytest.raises(UserError, match=r"samples_mmlu_x.jsonl:1: .*generate_until"):
        import_pools(src, fmt="lm-eval", out=tmp_path / "run", scorer="choice")
