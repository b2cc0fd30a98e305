"""A suite's runs over time, per config (`tts-bench history`): accuracy with its CI, cost per
request, P50/P95/P99 latency, format-violation and refusal rates and the model, each from the
run's summary.json (computed in memory, as `gate` does, when it is missing or stale), and the
drift checks of `tts_bench.gate_history` between each run and the one before it.

Runs are those under the results directory whose suite has the given name and whose status
is `complete` or `imported`, oldest first; the others are listed in `skipped` with why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.gate_history import Drift, DriftLimits, drift

METRICS = ("accuracy", "cost_per_request", "p50_latency_s", "p95_latency_s", "p99_latency_s")
RATES = ("format_violation", "refusal")


@dataclass
class Point:
    """One config in one run. `values[metric]` is (value, CI or None) for METRICS and for
    `failure_rate[<label>]`; `drift`: the checks against the previous run (empty for the
    first run of the config)."""

    run_id: str
    started: str
    config: str
    model: str | None
    n: int
    values: dict[str, tuple[float | None, tuple[float, float] | None]]
    drift: list[Drift] = field(default_factory=list)

    @property
    def alerts(self) -> list[Drift]:
        return [d for d in self.drift if not d.passed]


@dataclass
class History:
    """suite; runs: [{id, started, status, spent_usd, simulated, computed}] oldest first
    (`computed`: the summary was recomputed in memory); configs: name -> points in run
    order; skipped: [(id, reason)]."""

    suite: str
    results_dir: str
    runs: list[dict[str, Any]]
    configs: dict[str, list[Point]]
    skipped: list[tuple[str, str]]


def _point(run_id: str, started: str, entry: dict[str, Any], confidence: float) -> Point:
    from tts_bench.gate import figure

    values = {}
    for metric in (*METRICS, *(f"failure_rate[{r}]" for r in RATES)):
        value, ci, _ = figure(entry, metric, confidence)
        values[metric] = (value, ci)
    return Point(
        run_id=run_id,
        started=started,
        config=str(entry.get("config")),
        model=entry.get("model"),
        n=int(entry.get("n_items") or 0),
        values=values,
    )


def collect(results_dir: Path | str, suite: str, *, limits: DriftLimits = DriftLimits()) -> History:
    """The history of `suite` under `results_dir`. UserError when the folder is missing or
    holds no complete run of that suite (naming the suites it does hold)."""
    from tts_bench.gate import summary_of
    from tts_bench.report.model import current_summary
    from tts_bench.runs import list_runs

    rows = list_runs(results_dir)
    mine = [r for r in rows if r.suite == suite]
    skipped = [
        (r.id, f"status {r.status}") for r in mine if r.status not in ("complete", "imported")
    ]
    good = sorted(
        (r for r in mine if r.status in ("complete", "imported")),
        key=lambda r: (r.started or "", r.id),
    )
    if not good:
        names = sorted({r.suite for r in rows if r.suite})
        held = f"suites there: {', '.join(names)}" if names else "no readable runs there"
        raise UserError(f"{results_dir}: no complete run of suite {suite!r} ({held})")
    runs: list[dict[str, Any]] = []
    configs: dict[str, list[Point]] = {}
    entries: dict[str, dict[str, Any]] = {}  # each config's entry in its latest run
    for row in good:
        rd = Path(row.path)
        computed = current_summary(rd) is None
        try:
            summary = summary_of(rd)
        except UserError as exc:
            skipped.append((row.id, str(exc)))
            continue
        meta = summary.get("meta") or {}
        confidence = float(meta.get("confidence") or 0.95)
        runs.append(
            {
                "id": row.id,
                "started": row.started or "",
                "status": row.status,
                "spent_usd": row.spent_usd,
                "simulated": row.simulated,
                "computed": computed,
            }
        )
        for entry in summary.get("configs") or []:
            name = str(entry.get("config"))
            point = _point(row.id, row.started or "", entry, confidence)
            if name in entries:
                point.drift = drift(entry, entries[name], confidence=confidence, limits=limits)
            entries[name] = entry
            configs.setdefault(name, []).append(point)
    return History(suite, str(results_dir), runs, configs, skipped)
