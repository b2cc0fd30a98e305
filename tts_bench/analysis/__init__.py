"""Analysis of a run directory into summary.json: per-config figures with CIs, paired deltas
against the baseline, saturation curves from one pool, adaptive replay, Pareto frontier,
per-stratum routing (recommended-policy.yaml) and power. See docs/analysis.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def summarize(
    run_dir: Path | str,
    *,
    resamples: int | None = None,
    seed: int | None = None,
    epsilon: float | None = None,
    confidence: float | None = None,
    target_delta: float | None = None,
    max_cost_per_request: float | None = None,
    max_p95_latency_s: float | None = None,
) -> dict[str, Any]:
    """The summary.json content (JSON-serialisable, no NaN). Knobs left None come from the
    suite's `analysis:` block (resamples 10,000, seed 0, epsilon 1.0 point, confidence 0.95,
    target_delta in points; routing budgets max_cost_per_request in USD, max_p95_latency_s)."""
    from tts_bench.analysis.summary import summarize_with_policy

    return summarize_with_policy(
        run_dir,
        resamples=resamples,
        seed=seed,
        epsilon=epsilon,
        confidence=confidence,
        target_delta=target_delta,
        max_cost_per_request=max_cost_per_request,
        max_p95_latency_s=max_p95_latency_s,
    )[0]


def write_summary(run_dir: Path | str, **kw: Any) -> Path:
    """Write run_dir/summary.json and run_dir/recommended-policy.yaml; returns the summary
    path. Keyword arguments as for `summarize`."""
    from tts_bench.analysis.summary import write

    return write(run_dir, **kw)


__all__ = ["summarize", "write_summary"]
