"""The `plan` report: per-config figures, totals and warnings for a whole suite."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.pooling import pool_mode
from tts_bench.plan.calls import Use, call_pattern, knobs_of
from tts_bench.plan.estimate import TYPICAL_TPS, TYPICAL_TTFT_S, Estimator, Tally, wall_seconds
from tts_bench.plan.levers import Levers, levers, note, planned
from tts_bench.plan.prior import compare_run, observed, paired_var
from tts_bench.suite import Suite

MIN_STRATUM = 100
UNKNOWN_VAR_D = 0.2


@dataclass
class ConfigPlan:
    config: str
    calls: float
    input_tokens: float
    output_tokens: float
    reasoning_tokens: float
    cost_usd: float | None
    price_source: str
    wall_s: float
    notes: list[str] = field(default_factory=list)
    # the judge scorer's calls (plan/judge.py): evaluation cost, not in `cost_usd`
    eval_calls: float = 0.0
    eval_cost_usd: float | None = 0.0
    # the cost levers (plan/levers.py): how the run draws its pools ("n" | "separate"), the
    # config with pools as requests of n, and in provider batches (None: not estimated)
    pool_request: str = "separate"
    pooled_requests: float | None = None
    pooled_cost_usd: float | None = None
    pooled_wall_s: float | None = None
    batch_cost_usd: float | None = None
    batch_wall_s: float | None = None


@dataclass
class PlanReport:
    configs: list[ConfigPlan]
    total_cost_usd: float | None
    total_calls: float
    wall_s: float
    warnings: list[str]
    tokenizer_note: str
    total_eval_cost_usd: float | None = 0.0  # the judge's, apart from total_cost_usd


def _strata_warnings(items: list[Any], var_d: float | None, source: str) -> list[str]:
    groups: dict[str, int] = defaultdict(int)
    for it in items:
        key = ", ".join(f"{k}={v}" for k, v in sorted(it.strata.items()))
        if key:
            groups[key] += 1
    v = UNKNOWN_VAR_D if var_d is None else var_d
    how = (
        f"Var(d) = {v:.3f} {source}" if var_d is not None else f"Var(d) assumed {v} (no prior run)"
    )

    def mde(n: int) -> str:
        return f"±{100 * 2.8 * math.sqrt(v / n):.1f} pts"

    out = []
    if len(items) < MIN_STRATUM:
        out.append(
            f"only {len(items)} items: minimum detectable paired accuracy delta ≈ {mde(len(items))} "
            f"(80% power, α 0.05, {how})"
        )
    small = {k: n for k, n in groups.items() if n < MIN_STRATUM}
    if small:
        parts = ", ".join(f"{k}: {n} items (MDE ≈ {mde(n)})" for k, n in sorted(small.items()))
        out.append(f"strata below {MIN_STRATUM} items: {parts}; MDE = 2.8·sqrt(Var(d)/n), {how}")
    return out


def _route_weights(
    cfg: Any, k: dict[str, Any], records: dict[str, dict[str, dict]] | None
) -> tuple[dict[str, float], str]:
    targets = [str(t) for t in k["routes"].values()]
    seen = [
        ((r.get("info") or {}).get("routed_to")) for r in (records or {}).get(cfg.name, {}).values()
    ]
    seen = [s for s in seen if s in targets]
    if seen:
        return {t: seen.count(t) / len(seen) for t in set(seen)}, "observed route mix"
    w: dict[str, float] = defaultdict(float)
    for t in targets:
        w[t] += 1 / len(targets)
    return dict(w), "uniform route mix assumed (" + ", ".join(
        f"{t} {v:.0%}" for t, v in w.items()
    ) + ")"


def plan_suite(suite: Suite, *, from_run: Path | None = None, where: str = "suite") -> PlanReport:
    """Estimate calls, tokens, cost and wall time of running `suite` on a cold cache.

    from_run: a prior run directory whose observed calls per item and tokens per call
    replace the static estimates for the configs it ran with the same setup (strategy,
    model, max_tokens, reasoning settings, knobs); prices are today's."""
    from tts_bench.data import load_items
    from tts_bench.resolve import ResolvedSuite

    resolved = ResolvedSuite(suite, where)
    items, fingerprint = load_items(suite.dataset, where=f"{where}: dataset")
    if not items:
        raise UserError(f"{where}: dataset: no items")
    est = Estimator(suite, resolved, items)
    prior: dict[str, Tally] = {}
    records: dict[str, dict[str, dict]] | None = None
    warnings: list[str] = []
    notes: dict[str, list[str]] = defaultdict(list)
    if from_run is not None:
        run = Path(from_run)
        diffs, warnings = compare_run(run, suite, fingerprint)
        prior, records = observed(
            run, suite, len(items), est, {n for n, d in diffs.items() if not d}
        )
        for cfg in suite.configs:
            if cfg.name not in diffs:
                notes[cfg.name].append(f"not in {run}: static estimate")
            elif diffs[cfg.name]:
                notes[cfg.name].append(
                    f"{run} ran it with {', '.join(diffs[cfg.name])}: static estimate"
                )
    tallies: dict[str, Tally] = {}
    found: dict[str, Levers] = {}  # the cost levers of configs costed from their calls
    truncated: list[str] = []

    def tally(name: str, depth: int = 0) -> Tally:
        if name in tallies:
            return tallies[name]
        cfg = suite.config(name)
        spec = resolved.specs[name]
        k = knobs_of(cfg.strategy, cfg.knobs)
        routed = cfg.strategy == "router" and depth < 4
        if not routed:
            uses, why = call_pattern(cfg.strategy, k, spec)
            cut = est.truncation(uses)  # a property of the setup, observed or not
            if cut:
                truncated.append(f"config {name}: {cut}")
        if name in prior:
            tallies[name] = prior[name]
            notes[name].append(
                f"observed in {from_run}: {prior[name].calls / len(items):.2f} calls per item"
            )
        elif routed:
            t = Tally()
            mine: list[str] = []
            if k.get("classifier") == "llm":
                cm = k.get("classifier_model") or spec.model
                cspec = spec if cm == spec.model else spec.with_(model=cm)
                t.add(est.config([Use("classify", cm, 1, cspec)]))
                mine.append("1 classify call per item")
            weights, how = _route_weights(cfg, k, records)
            for target, w in weights.items():
                t.add(tally(target, depth + 1), w)
            tallies[name] = t
            notes[name] += [*mine, how]
        else:
            lv = levers(est, spec, uses)  # on demand, pooled, batch: the run's is the headline
            tallies[name], found[name] = planned(lv) or Tally(), lv
            notes[name] += why
        if cfg.fallback:
            notes[name].append(f"fallback {cfg.fallback} calls (only on failures) not counted")
        return tallies[name]

    plans = []
    for cfg in suite.configs:
        t = tally(cfg.name)
        models = sorted({resolved.specs[cfg.name].model})
        for m in models:
            est.rate(m)
        plans.append(
            ConfigPlan(
                config=cfg.name,
                calls=t.calls,
                input_tokens=t.inp,
                output_tokens=t.out,
                reasoning_tokens=t.reasoning,
                cost_usd=t.cost,
                price_source=", ".join(f"{m}: {est.sources[m]}" for m in models),
                wall_s=wall_seconds(t, suite.limits),
                notes=notes[cfg.name],
            )
        )
        lv = found.get(cfg.name) or Levers(pool_mode(resolved.specs[cfg.name]), None, None, None)
        _add_levers(plans[-1], lv, suite)
    total = Tally()
    for p in plans:
        total.add(tallies[p.config])
    evals = _judge(est, suite, plans, tallies, len(items))
    if suite.scorer.type == "judge":  # the human review that checks the judge (docs/judging.md)
        from tts_bench.analysis.ppi import review_note

        for p in plans:
            p.notes.append(review_note(len(items), from_run=from_run, config=p.config))
    warnings += truncated
    for m in sorted(est.unpriced):
        warnings.append(
            f"{m}: no known price (add it under `pricing:`); its cost is unknown, not 0"
        )
    cap = suite.limits.max_cost_usd
    spend = None if total.cost is None or evals.cost is None else total.cost + evals.cost
    if cap is not None and spend is not None and spend > cap:
        warnings.append(f"estimated cost ${spend:.4f} exceeds limits.max_cost_usd ${cap:.4f}")
    var_d = paired_var(records, suite.baseline) if records else None
    warnings += _strata_warnings(items, var_d, f"observed in {from_run}")
    if any(m.startswith("sim/") for m in (s.model for s in resolved.specs.values())):
        warnings.append(
            "simulated models: wall time is what the simulated latencies would take; "
            "the simulator itself does not sleep"
        )
    if any(not m.startswith("sim/") for m in (s.model for s in resolved.specs.values())):
        warnings.append(
            f"non-simulated models: latency assumed {TYPICAL_TTFT_S} s to first token + "
            f"{TYPICAL_TPS:.0f} tokens/s"
        )
    return PlanReport(
        configs=plans,
        total_cost_usd=total.cost,
        total_calls=total.calls,
        wall_s=wall_seconds(total, suite.limits),
        warnings=warnings,
        tokenizer_note=est.counter.note(),
        total_eval_cost_usd=evals.cost,
    )


def _add_levers(p: ConfigPlan, lv: Levers, suite: Suite) -> None:
    """The config's cost levers (plan/levers.py) onto `p`, and their note."""
    p.pool_request = lv.pool_request
    if lv.pooled is not None:
        p.pooled_requests, p.pooled_cost_usd = lv.pooled.sent, lv.pooled.cost
        p.pooled_wall_s = wall_seconds(lv.pooled, suite.limits)
    if lv.batch is not None:
        p.batch_cost_usd, p.batch_wall_s = lv.batch.cost, lv.batch.call_s  # rounds x turnaround
    p.notes.append(note(lv, suite.limits))


def _judge(
    est: Estimator, suite: Suite, plans: list[ConfigPlan], tallies: dict[str, Tally], n: int
) -> Tally:
    """The judge's calls and cost per config (plan/judge.py) onto `plans`, and their total."""
    from tts_bench.plan.judge import judge_tallies

    total = Tally()
    found = judge_tallies(est, suite, {p.config: tallies[p.config] for p in plans})
    for p in plans:
        e = found.get(p.config)
        if e is None:
            continue
        total.add(e)
        p.eval_calls, p.eval_cost_usd = e.calls, e.cost
        cost = "unknown" if e.cost is None else f"${e.cost:.4f}"
        p.notes.append(
            f"judge: {e.calls / n:.0f} calls per item, evaluation cost {cost} (not in cost)"
        )
    return total
