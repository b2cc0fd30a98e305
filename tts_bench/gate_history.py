"""Drift rules: a run against the last accepted run of its suite (`gate --history DIR`), and
the same checks between consecutive runs on the history page.

The reference ("last accepted run") is the most recent run in DIR of the same suite whose
status is `complete` (or `imported`) and which started before the candidate; the candidate
itself is never its own reference. Keep only runs whose gate passed in DIR (CI that stores a
run after a green gate does this) and the reference is the last accepted one; keep every run
and it is simply the previous complete one.

Per config present in both runs (`DriftLimits` holds the knobs):
- `cost_per_request` at most `cost_ratio_max` (1.5) times the reference's (point);
- `p95_latency_s` at most `p95_ratio_max` (1.2) times the reference's, judged on the
  candidate's P95 interval (order statistics): it fails only when the whole interval lies
  above the bound, since a P95 over a few dozen items moves by 20% from noise alone (on
  the point when the summary has no interval);
- `failure_rate[format_violation]` and `failure_rate[refusal]` not up significantly: a
  one-sided Fisher exact test of the two proportions (candidate > reference) at `alpha`
  (0.05). Fisher's test is exact at every sample size and instant; it is slightly
  conservative, so a rise it flags is a real one.
A candidate figure that is missing fails (a gate never passes on data it does not have); a
missing reference figure passes with a note (nothing to drift from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.gate_rules import fmt

RATES = ("format_violation", "refusal")


@dataclass(frozen=True)
class DriftLimits:
    """cost_ratio_max: cost per request vs the reference; p95_ratio_max: P95 latency vs the
    reference; alpha: significance of the one-sided test on each rate in `rates`."""

    cost_ratio_max: float = 1.5
    p95_ratio_max: float = 1.2
    alpha: float = 0.05
    rates: tuple[str, ...] = RATES


@dataclass
class Drift:
    """One check of one config: `value` the candidate's figure (CI when it has one),
    `reference` the reference run's, `bound` in the figure's unit, `on` how it was judged
    (point or test)."""

    config: str
    metric: str
    value: float | None
    ci: tuple[float | None, float | None] | None  # a latency quantile may lack its upper end
    reference: float | None
    bound: str
    on: str
    passed: bool
    note: str


def _count(entry: dict[str, Any], label: str) -> tuple[int, int]:
    counts = (entry.get("failures") or {}).get("counts") or {}
    return int(counts.get(label) or 0), int(entry.get("n_items") or 0)


def fisher_greater(x1: int, n1: int, x0: int, n0: int) -> float:
    """One-sided p-value that rate x1/n1 exceeds x0/n0 (Fisher's exact test)."""
    from scipy.stats import fisher_exact

    table = [[x1, n1 - x1], [x0, n0 - x0]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def _ratio_check(
    config: str,
    metric: str,
    value: float | None,
    ref: float | None,
    limit: float,
    lower: float | None = None,
) -> Drift:
    """`value` at most `limit` times `ref`; with `lower` (the CI's lower bound) the check is
    on it: only a rise the interval shows fails."""
    on = "point" if lower is None else "ci"
    if ref is None or ref <= 0:
        why = "no reference figure" if ref is None else "reference is 0"
        return Drift(config, metric, value, None, ref, f"<= {limit:g}× ref", on, True, why)
    bound = limit * ref
    text = f"<= {fmt(metric, bound)} ({limit:g}× {fmt(metric, ref)})"
    if value is None:
        return Drift(config, metric, None, None, ref, text, on, False, "no value")
    note = f"{value / ref:.2f}× the reference"
    if lower is None:
        return Drift(config, metric, value, None, ref, text, on, value <= bound, note)
    if lower > bound:
        note += f"; whole CI above the bound (lower {fmt(metric, lower)})"
    elif value > bound:
        note += "; CI reaches below the bound: no demonstrated rise"
    return Drift(config, metric, value, None, ref, text, on, lower <= bound, note)


def _lower(entry: dict[str, Any], q: str) -> float | None:
    """The lower end of a latency quantile's interval even when its upper end is unbounded
    (too few items for a finite upper bound: the lower one still shows a rise)."""
    ci = ((entry.get("latency") or {}).get(q) or {}).get("ci") or [None]
    lo = ci[0]
    return lo if isinstance(lo, int | float) and not isinstance(lo, bool) else None


def drift(
    cand: dict[str, Any],
    ref: dict[str, Any],
    *,
    confidence: float = 0.95,
    limits: DriftLimits = DriftLimits(),
) -> list[Drift]:
    """The drift checks of one config: `cand` and `ref` are its entries of the two runs'
    summary.json."""
    from tts_bench.gate import figure

    name = str(cand.get("config"))
    out = []
    for metric, limit in (
        ("cost_per_request", limits.cost_ratio_max),
        ("p95_latency_s", limits.p95_ratio_max),
    ):
        value, ci, note = figure(cand, metric, confidence)
        ref_value, _, _ = figure(ref, metric, confidence)
        lower = ci[0] if ci is not None else None
        if lower is None and metric == "p95_latency_s":
            lower = _lower(cand, "p95")
        d = _ratio_check(name, metric, value, ref_value, limit, lower)
        if lower is not None:
            d.ci = ci or (lower, None)
        if note and value is None:
            d.note = note
        out.append(d)
    for label in limits.rates:
        metric = f"failure_rate[{label}]"
        value, ci, _ = figure(cand, metric, confidence)
        (x1, n1), (x0, n0) = _count(cand, label), _count(ref, label)
        bound = f"not above {fmt(metric, x0 / n0) if n0 else '—'} (p < {limits.alpha:g})"
        if not n1:
            out.append(Drift(name, metric, None, None, None, bound, "test", False, "no value"))
            continue
        if not n0:
            out.append(Drift(name, metric, value, ci, None, bound, "test", True, "no reference"))
            continue
        p = fisher_greater(x1, n1, x0, n0)
        note = f"{x1}/{n1} vs {x0}/{n0}, one-sided Fisher p = {p:.3g}"
        out.append(Drift(name, metric, value, ci, x0 / n0, bound, "test", p >= limits.alpha, note))
    return out


def reference_run(results_dir: Path | str, candidate: Path | str) -> Path | None:
    """The last accepted run for `candidate` under `results_dir` (module doc), or None."""
    from tts_bench.runs import list_runs
    from tts_bench.store import read_manifest

    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"--history {root}: results directory not found")
    cand = Path(candidate)
    m = read_manifest(cand)
    suite = (m.get("suite") or {}).get("name")
    started = m.get("started_at") or ""
    here = cand.resolve()
    best = None
    for row in list_runs(root):
        if row.problem or row.suite != suite or row.status not in ("complete", "imported"):
            continue
        if Path(row.path).resolve() == here or (started and (row.started or "") >= started):
            continue
        if best is None or (row.started or "") > (best.started or ""):
            best = row
    return None if best is None else Path(best.path)


def history_verdicts(
    run_dir: Path | str,
    results_dir: Path | str,
    summary: dict[str, Any],
    *,
    limits: DriftLimits = DriftLimits(),
) -> list[Any]:
    """`gate.Verdict`s of the drift checks of every config of `run_dir` (its `summary`)
    against the last accepted run in `results_dir`. No earlier run: one passing verdict
    saying so (the first run becomes the reference)."""
    from tts_bench.gate import Verdict, summary_of

    ref_dir = reference_run(results_dir, run_dir)
    if ref_dir is None:
        note = f"no earlier complete run of this suite in {results_dir}: nothing to compare"
        return [Verdict("history: reference run", "*", "history", None, None, "—", "—", True, note)]
    ref = summary_of(ref_dir)
    refs = {e["config"]: e for e in ref.get("configs") or []}
    confidence = float((summary.get("meta") or {}).get("confidence") or 0.95)
    fp = (
        (summary.get("meta") or {}).get("dataset_fingerprint"),
        (ref.get("meta") or {}).get("dataset_fingerprint"),
    )
    extra = "; the runs' datasets differ (fingerprints)" if fp[0] != fp[1] else ""
    out = []
    for entry in summary.get("configs") or []:
        name = entry["config"]
        if name not in refs:
            note = f"not in {ref_dir.name}: nothing to compare"
            out.append(
                Verdict(f"{name}: history", name, "history", None, None, "—", "—", True, note)
            )
            continue
        for d in drift(entry, refs[name], confidence=confidence, limits=limits):
            out.append(
                Verdict(
                    rule=f"{name}: {d.metric} vs last accepted {ref_dir.name}",
                    config=name,
                    metric=d.metric,
                    value=d.value,
                    ci=d.ci,
                    bound=d.bound,
                    on=d.on,
                    passed=d.passed,
                    note=d.note + extra,
                )
            )
    return out
