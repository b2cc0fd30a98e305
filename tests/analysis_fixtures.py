"""Synthetic run directories for the analysis tests and benchmark: manifest.json and
records.jsonl with strata, clusters, pools (with distinct wrong answers), scores, costs,
latencies, infrastructure failures, unknown costs, a duplicated pair and a torn last line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.suite import Suite


@dataclass
class Cfg:
    name: str
    p: dict[str, float]  # per-stratum probability a sample / answer is right
    pool: int | None = None  # sample pool size (None: a single answer)
    scores: bool = False  # samples carry selector scores (best-of-n)
    cost: float = 0.001  # per call
    latency: float = 1.0  # mean per call (lognormal)
    model: str = "sim/small"
    knobs: dict[str, Any] = field(default_factory=dict)
    strategy: str | None = None  # default: single, self_consistency or best_of_n by the pool


DEFAULT = [
    Cfg("single", {"easy": 0.8, "hard": 0.4}),
    Cfg("cot", {"easy": 0.85, "hard": 0.5}, cost=0.002, latency=2.0),
    Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=8, knobs={"n": [1, 2, 4, 8]}),
    Cfg(
        "bon", {"easy": 0.7, "hard": 0.4}, pool=6, scores=True, knobs={"n": 6, "selector": "scorer"}
    ),
]
WRONG = ["41", "40", "43", "44"]


def make_run(
    root: Path,
    *,
    n_items: int = 200,
    configs: list[Cfg] | None = None,
    seed: int = 0,
    hard_share: float = 0.4,
    clusters: int | None = None,
    infra_rate: float = 0.03,
    unknown_cost_rate: float = 0.0,
    status: str = "complete",
    analysis: dict[str, Any] | None = None,
    torn: bool = True,
) -> Path:
    """Write a run directory under `root` and return it. Item difficulty varies around the
    stratum's rate (so pairing matters); wrong answers spread over several distinct values."""
    rng = np.random.default_rng(seed)
    configs = configs or DEFAULT
    run = root / f"run-{seed}"
    run.mkdir(parents=True, exist_ok=True)
    n_hard = int(round(n_items * hard_share))
    strata = ["hard"] * n_hard + ["easy"] * (n_items - n_hard)
    ability = rng.normal(0, 1.0, n_items)  # item-level shift shared by every config
    lines = []
    for i in range(n_items):
        for cfg in configs:
            rec = _record(
                rng, cfg, i, strata[i], ability[i], clusters, infra_rate, unknown_cost_rate
            )
            lines.append(json.dumps(rec))
    if lines:
        stale = json.loads(lines[0])
        stale["latency_s"] = -1.0  # an earlier attempt of the same pair: the later line wins
        lines.insert(0, json.dumps(stale))
    suite = {
        "name": "synthetic",
        "dataset": {
            "source": "builtin:arithmetic",
            "fields": {"strata": ["difficulty"], "cluster": "source" if clusters else None},
            "sample": {"size": n_items, "by": ["difficulty"]},
        },
        "scorer": {"type": "numeric"},
        "baseline": configs[0].name,
        "configs": [{"name": c.name, "strategy": _strategy(c), **c.knobs} for c in configs],
        "analysis": analysis or {},
    }
    manifest = {
        "run_id": run.name,
        "suite": Suite.model_validate(suite).model_dump(mode="json"),
        "status": status,
        "seed": seed,
        "dataset_fingerprint": "synthetic",
        "item_count": n_items,
        "configs": [{"name": c.name, "model": c.model} for c in configs],
        "baseline": configs[0].name,
        "spent_usd": 0.0,
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    body = "\n".join(lines) + "\n"
    if torn:
        body += '{"item_id": "torn", "config": "single", "correct": tr'
    (run / "records.jsonl").write_text(body, encoding="utf-8")
    return run


def _strategy(cfg: Cfg) -> str:
    if cfg.strategy:
        return cfg.strategy
    if not cfg.pool:
        return "single"
    return "best_of_n" if cfg.scores else "self_consistency"


def _record(
    rng: np.random.Generator,
    cfg: Cfg,
    i: int,
    stratum: str,
    ability: float,
    clusters: int | None,
    infra_rate: float,
    unknown_cost_rate: float,
) -> dict[str, Any]:
    logit = np.log(cfg.p[stratum] / (1 - cfg.p[stratum])) + ability
    p = 1 / (1 + np.exp(-logit))
    infra = rng.random() < infra_rate
    samples = None
    lat_fixed = float(rng.lognormal(np.log(0.2), 0.3))
    cost_fixed = cfg.cost * 0.5
    if cfg.pool:
        samples = []
        for _ in range(cfg.pool):
            ok = rng.random() < p
            none = (not ok) and rng.random() < 0.1
            ans = (
                None
                if none
                else ("42" if ok else str(rng.choice(WRONG, p=[0.55, 0.25, 0.15, 0.05])))
            )
            samples.append(
                {
                    "answer": ans,
                    "correct": bool(ok),
                    "value": float(ok),
                    "score": float(rng.normal(1.0 if ok else 0.0, 1.0)) if cfg.scores else None,
                    "cost_usd": cfg.cost,
                    "latency_s": float(rng.lognormal(np.log(cfg.latency), 0.5)),
                    "input_tokens": 100,
                    "output_tokens": 200,
                    "reasoning_tokens": 0,
                    "status": "ok",
                    "finish_reason": "stop",
                }
            )
        if cfg.scores:
            top = max(samples, key=lambda s: -np.inf if s["score"] is None else s["score"])
            answer = top["answer"]
        else:
            votes: dict[str, int] = {}
            for s in samples:
                if s["answer"] is not None:
                    votes[s["answer"]] = votes.get(s["answer"], 0) + 1
            best = max(votes.values()) if votes else 0
            tied = sorted(a for a, v in votes.items() if v == best)
            answer = str(rng.choice(tied)) if tied else None
        cost = sum(s["cost_usd"] for s in samples) + cost_fixed
        latency = max(s["latency_s"] for s in samples) + lat_fixed
        n_calls = cfg.pool + 1
    else:
        ok = rng.random() < p
        answer = "42" if ok else str(rng.choice(WRONG))
        cost = cfg.cost + cost_fixed
        latency = float(rng.lognormal(np.log(cfg.latency), 0.5)) + lat_fixed
        n_calls = 1
    correct: bool | None = answer == "42"
    failure = None if correct else ("format_violation" if answer is None else "wrong_answer")
    if infra:
        correct, answer = None, None
        failure = str(rng.choice(["rate_limited", "timeout", "api_error"]))
        if samples:
            for s in samples:
                s.update(answer=None, correct=None, value=None, status=failure)
    return {
        "item_id": f"q{i:05d}",
        "config": cfg.name,
        "strategy": _strategy(cfg),
        "model": cfg.model,
        "strata": {"difficulty": stratum},
        "cluster": f"c{i % clusters}" if clusters else None,
        "target": "42",
        "answer": answer,
        "correct": correct,
        "score": None if correct is None else float(correct),
        "metrics": {},
        "failure": failure,
        "status": "ok" if not infra else failure,
        "cost_usd": None if rng.random() < unknown_cost_rate else round(cost, 8),
        "latency_s": round(latency, 6),
        "wall_s": round(latency * 1.1, 6),
        "input_tokens": 100 * n_calls,
        "output_tokens": 200 * n_calls,
        "reasoning_tokens": 0,
        "n_calls": n_calls,
        "confidence": None,
        "info": {},
        "samples": samples,
    }


def edit_records(run: Path, fn: Any) -> None:
    """Rewrite records.jsonl through fn(record) -> record (the torn last line is dropped)."""
    path = run / "records.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(json.dumps(fn(rec)))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
