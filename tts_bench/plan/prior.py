"""What a prior run observed, for `plan --from RUN_DIR`: which of its configs were run the
way the suite plans them (`compare_run`), their calls per item and tokens per call
(`observed`), and the paired per-item variance behind the detectable-effect warnings."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from tts_bench.plan.calls import knobs_of
from tts_bench.plan.estimate import Estimator, Tally, call_cost
from tts_bench.suite import ConfigSpec, Defaults, Suite


def setup(cfg: ConfigSpec, defaults: Defaults) -> dict[str, Any]:
    """What decides a config's calls and tokens per call: strategy, model, `max_tokens`,
    reasoning settings and the strategy's knobs (its defaults filled in)."""
    return {
        "strategy": cfg.strategy,
        "model": cfg.model or defaults.model,
        "max_tokens": cfg.max_tokens or defaults.max_tokens,
        "reasoning_effort": cfg.reasoning_effort,
        "thinking_budget": cfg.thinking_budget,
        **knobs_of(cfg.strategy, cfg.knobs),
    }


def compare_run(
    run_dir: Path, suite: Suite, fingerprint: str
) -> tuple[dict[str, list[str]], list[str]]:
    """Per planned config the prior run has, how its setup differs from the planned one
    ([] when it is the same, so its observations apply); and warnings about the run as a
    whole (another suite, another dataset)."""
    from tts_bench.store import read_manifest

    man = read_manifest(run_dir)  # a clear error when it is not a run directory
    ran = man.get("suite") or {}
    warnings = []
    if ran.get("name") != suite.name:
        warnings.append(
            f"--from {run_dir}: that run is of suite {ran.get('name')!r}, not {suite.name!r}"
        )
    if man.get("dataset_fingerprint") != fingerprint:
        warnings.append(
            f"--from {run_dir}: its items differ from this suite's (dataset fingerprint): "
            "observed tokens per call may not carry over"
        )
    defaults = Defaults.model_validate(ran.get("defaults") or {})
    before = {}
    for raw in ran.get("configs") or []:
        cfg = ConfigSpec.model_validate(raw)
        before[cfg.name] = setup(cfg, defaults)
    diffs: dict[str, list[str]] = {}
    for cfg in suite.configs:
        if cfg.name not in before:
            continue
        now, then = setup(cfg, suite.defaults), before[cfg.name]
        diffs[cfg.name] = [
            f"{k} {then.get(k)!r} (now {now.get(k)!r})"
            for k in sorted(set(now) | set(then))
            if now.get(k) != then.get(k)
        ]
    return diffs, warnings


def observed(
    run_dir: Path, suite: Suite, n_items: int, est: Estimator, keep: set[str]
) -> tuple[dict[str, Tally], dict]:
    """Tallies scaled to `n_items` from a prior run's calls for the configs in `keep`
    (observed calls per item and tokens per call, priced at today's prices), and the run's
    records by config (those configs only)."""
    from tts_bench.store import load_calls, load_records

    records: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in load_records(run_dir):
        if r["config"] in keep:
            records[r["config"]][str(r["item_id"])] = r
    sums: dict[str, Tally] = defaultdict(Tally)
    for c in load_calls(run_dir):
        if c.get("config") not in records or c.get("role") == "eval_judge":
            continue  # the judge's calls are evaluation cost (plan/judge.py), not serving
        t = Tally(
            calls=1,
            inp=c.get("input_tokens") or 0,
            out=c.get("output_tokens") or 0,
            reasoning=c.get("reasoning_tokens") or 0,
            call_s=c.get("latency_s") or 0.0,
        )
        rate = est.rate(c["model"])
        t.cost = call_cost(rate, t.inp, t.out, t.reasoning)
        sums[c["config"]].add(t)
    out: dict[str, Tally] = {}
    for name, t in sums.items():
        if name in {c.name for c in suite.configs}:
            scaled = Tally(cost=0.0)
            scaled.add(t, n_items / len(records[name]))
            out[name] = scaled
    return out, records


def paired_var(records: dict[str, dict[str, dict]], baseline: str) -> float | None:
    """The largest per-item variance of (correct_config − correct_baseline) in a prior run."""
    import numpy as np

    base = records.get(baseline, {})
    best: float | None = None
    for name, recs in records.items():
        if name == baseline:
            continue
        d = [
            float(r["correct"]) - float(base[i]["correct"])
            for i, r in recs.items()
            if i in base and r.get("correct") is not None and base[i].get("correct") is not None
        ]
        if len(d) > 1:
            v = float(np.var(d, ddof=1))
            best = v if best is None else max(best, v)
    return best
