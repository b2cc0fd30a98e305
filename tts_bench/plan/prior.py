"""What a prior run observed, for `plan --from RUN_DIR`: calls per item and tokens per call,
and the paired per-item variance behind the detectable-effect warnings."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tts_bench.plan.estimate import Estimator, Tally
from tts_bench.suite import Suite


def observed(
    run_dir: Path, suite: Suite, n_items: int, est: Estimator
) -> tuple[dict[str, Tally], dict]:
    """Per-config tallies scaled to `n_items` from a prior run's calls (observed calls per
    item and tokens per call, priced at today's prices), and its records by config."""
    from tts_bench.store import load_calls, load_records, read_manifest

    read_manifest(run_dir)  # a clear error when it is not a run directory
    records: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in load_records(run_dir):
        records[r["config"]][str(r["item_id"])] = r
    sums: dict[str, Tally] = defaultdict(Tally)
    for c in load_calls(run_dir):
        if c.get("config") not in records:
            continue
        t = Tally(
            calls=1,
            inp=c.get("input_tokens") or 0,
            out=c.get("output_tokens") or 0,
            reasoning=c.get("reasoning_tokens") or 0,
            call_s=c.get("latency_s") or 0.0,
        )
        rate = est.rate(c["model"])
        t.cost = (
            None
            if rate is None
            else (t.inp * rate.input + (t.out + t.reasoning) * rate.output) / 1e6
        )
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
