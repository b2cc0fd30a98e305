"""A synthetic run directory (manifest, records, calls) for the report's tests and benchmark.

No model runs: answers, costs and latencies are drawn from a seeded generator with accuracy
that depends on the config and the difficulty stratum, so the report has realistic shapes
(gains on hard items, saturating pools, failures of every kind) at any size.
Knobs: `items` (count), `configs` (how many of `CONFIGS`, 2..8), `seed`, `text_chars`
(length of each raw output), `payload` (a string planted in one item's output, e.g. an
XSS probe), `status` (the manifest status).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# name, strategy, model, pool size (None: single answer), base accuracy by difficulty,
# cost per call, latency per call
CONFIGS: list[tuple[str, str, str, int | None, tuple[float, float, float], float, float]] = [
    ("single", "single", "sim/small", None, (0.9, 0.65, 0.35), 0.0002, 0.8),
    ("cot", "cot", "sim/small", None, (0.94, 0.75, 0.5), 0.0006, 2.2),
    ("sc", "self_consistency", "sim/small", 9, (0.92, 0.72, 0.45), 0.0006, 2.0),
    ("large", "single", "sim/large", None, (0.96, 0.82, 0.6), 0.002, 1.5),
    ("reflect", "reflection", "sim/small", None, (0.93, 0.74, 0.47), 0.0005, 1.8),
    ("bon", "best_of_n", "sim/small", 8, (0.92, 0.7, 0.44), 0.0006, 2.1),
    ("reasoner", "reasoning_effort", "sim/reasoner", None, (0.97, 0.88, 0.7), 0.004, 6.0),
    ("router", "routing", "sim/small", None, (0.93, 0.8, 0.6), 0.001, 2.5),
]
DIFFICULTY = ("easy", "medium", "hard")
_WORDS = "first add the two numbers then multiply the result by three and subtract".split()


def write_synthetic_run(
    run_dir: Path | str,
    *,
    items: int = 60,
    configs: int = 4,
    seed: int = 0,
    text_chars: int = 300,
    payload: str | None = None,
    status: str = "complete",
) -> Path:
    """Write manifest.json, records.jsonl and calls.jsonl of a fake run; return the run dir."""
    rng = np.random.default_rng(seed)
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfgs = CONFIGS[: max(2, min(configs, len(CONFIGS)))]
    diff = [DIFFICULTY[i % 3] for i in range(items)]
    strata_counts = {"difficulty": {d: diff.count(d) for d in DIFFICULTY}}
    spent = 0.0
    with (out / "records.jsonl").open("w") as rf, (out / "calls.jsonl").open("w") as cf:
        for i in range(items):
            item_id = f"arith-{i:05d}"
            target = int(rng.integers(10, 999))
            level = DIFFICULTY.index(diff[i])
            skill = rng.normal(0, 0.08)  # shared per item: configs are correlated
            for name, strategy, model, pool, acc, cost, lat in cfgs:
                p = float(np.clip(acc[level] + skill, 0.02, 0.99))
                calls = []
                samples = None
                if pool:
                    ok = rng.random(pool) < p
                    answers = [
                        str(target) if o else str(target + int(rng.integers(1, 4))) for o in ok
                    ]
                    lats = rng.lognormal(np.log(lat), 0.4, pool)
                    samples = []
                    for k in range(pool):
                        text = _text(rng, text_chars, answers[k])
                        calls.append(_call(item_id, name, "sample", k, model, cost, lats[k], text))
                        samples.append(
                            {
                                "answer": answers[k],
                                "correct": bool(ok[k]),
                                "value": float(ok[k]),
                                "score": float(ok[k] * 0.5 + rng.random() * 0.6)
                                if strategy == "best_of_n"
                                else None,
                                "cost_usd": cost,
                                "latency_s": float(lats[k]),
                                "status": "ok",
                                "finish_reason": "stop",
                            }
                        )
                    vals, counts = np.unique(answers, return_counts=True)
                    answer = str(vals[np.argmax(counts)])
                    latency = float(lats.max())
                    output = calls[0]["text"]
                    confidence = float(counts.max() / pool)
                else:
                    right = rng.random() < p
                    answer = str(target) if right else str(target + int(rng.integers(1, 4)))
                    latency = float(rng.lognormal(np.log(lat), 0.5))
                    output = _text(rng, text_chars, answer)
                    calls.append(_call(item_id, name, "sample", 0, model, cost, latency, output))
                    if strategy == "reflection":
                        calls.append(
                            _call(item_id, name, "critique", 0, model, cost, 0.5, "Looks right.")
                        )
                    confidence = None
                correct: bool | None = answer == str(target)
                failure = None if correct else "wrong_answer"
                rec_status = "ok"
                u = rng.random()
                if u < 0.01:
                    rec_status, correct, failure, answer = "timeout", None, "timeout", None
                elif not correct and u < 0.06:
                    failure, answer = "format_violation", None
                elif not correct and u < 0.08:
                    failure = "truncated"
                if payload and i == 1:  # untrusted text everywhere a model writes
                    output = answer = payload
                    calls[0]["text"] = payload
                for c in calls:
                    cf.write(json.dumps(c) + "\n")
                rec_cost = sum(c["cost_usd"] for c in calls)
                spent += rec_cost
                rf.write(
                    json.dumps(
                        {
                            "item_id": item_id,
                            "config": name,
                            "strategy": strategy,
                            "model": model,
                            "strata": {"difficulty": diff[i]},
                            "cluster": None,
                            "target": str(target),
                            "answer": answer,
                            "output": output,
                            "correct": correct,
                            "score": None if correct is None else float(correct),
                            "metrics": {},
                            "failure": failure,
                            "status": rec_status,
                            "cost_usd": rec_cost,
                            "latency_s": round(latency, 6),
                            "wall_s": round(latency * 1.1, 6),
                            "input_tokens": 60 * len(calls),
                            "output_tokens": 120 * len(calls),
                            "reasoning_tokens": 0,
                            "n_calls": len(calls),
                            "cache_hits": 0,
                            "confidence": confidence,
                            "simulated": True,
                            "info": {},
                            "samples": samples,
                        }
                    )
                    + "\n"
                )
    cfg_specs = [
        {"name": c[0], "strategy": c[1], "model": c[2], **({"n": [1, 2, 4, c[3]]} if c[3] else {})}
        for c in cfgs
    ]
    manifest = {
        "run_id": out.name,
        "status": status,
        "suite": {
            "name": "synthetic",
            "description": payload or "A synthetic run for the report.",
            "seed": seed,
            "dataset": {
                "source": "builtin:synthetic",
                "fields": {
                    "id": "id",
                    "input": "question",
                    "target": "answer",
                    "strata": ["difficulty"],
                },
            },
            "scorer": {"type": "numeric"},
            "analysis": {"epsilon": 1.0, "resamples": 2000},
            "baseline": "single",
            "configs": cfg_specs,
        },
        "started_at": "2025-01-01T00:00:00+00:00",
        "finished_at": "2025-01-01T00:10:00+00:00",
        "tool_version": "0.1.0",
        "litellm_version": None,
        "python_version": "3.11",
        "seed": seed,
        "dataset_fingerprint": f"sha256:{seed:08x}synthetic",
        "item_count": items,
        "strata_counts": strata_counts,
        "baseline": "single",
        "simulated": True,
        "configs": cfg_specs,
        "spent_usd": round(spent, 8),
        "sessions": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def _text(rng: np.random.Generator, chars: int, answer: str | None) -> str:
    words = rng.choice(_WORDS, size=max(1, chars // 6))
    return " ".join(words)[:chars] + f"\nFinal answer: {answer}"


def _call(
    item_id: str, config: str, role: str, k: int, model: str, cost: float, latency: float, text: str
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "config": config,
        "role": role,
        "sample_index": k,
        "model": model,
        "input_tokens": 60,
        "output_tokens": 120,
        "reasoning_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": cost,
        "latency_s": round(float(latency), 6),
        "status": "ok",
        "retries": 0,
        "cache_hit": False,
        "finish_reason": "stop",
        "error": None,
        "simulated": True,
        "text": text,
    }
