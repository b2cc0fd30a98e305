"""The cost levers of a config in `plan`, side by side: on demand (one request per call), with
`n` pooling (a pool as one request of n choices: the prompt paid once per request,
llm/pooling.py) and in provider batches (`estimate.batch_figures`), each with its wall time.
A config's headline figures are the ones of the way its run will go (`planned`).

Pooled figures are static estimates: for a config costed from a prior run (`--from`) or a
router they are not estimated (None, shown "—"), never guessed from other figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tts_bench.plan.calls import Use
from tts_bench.plan.estimate import (
    BATCH_TURNAROUND_S,
    Estimator,
    Tally,
    batch_figures,
    wall_seconds,
)


@dataclass
class Levers:
    """pool_request: how a run of this config draws its pools ("n" or "separate");
    on_demand / pooled / batch: the config's tally with one request per call / with pools as
    requests of n / in provider batches (None: not estimated)."""

    pool_request: str
    on_demand: Tally | None
    pooled: Tally | None
    batch: Tally | None


def levers(est: Estimator, spec: Any, uses: list[Use] | None) -> Levers:
    """The levers of one config; uses: its calls per item (None when its figures are not
    the static estimate: observed in a prior run, or a router's mix)."""
    from tts_bench.llm.pooling import pool_mode

    mode = pool_mode(spec)
    if uses is None:
        return Levers(mode, None, None, None)
    on_demand = est.config(uses)
    pooled = est.config(uses, pooled=True) if any(u.pool for u in uses) else on_demand
    return Levers(mode, on_demand, pooled, batch_figures(est, uses, on_demand))


def planned(lv: Levers) -> Tally | None:
    """The tally of the way the run will go: pooled when it draws pools as requests of n."""
    return lv.pooled if lv.pool_request == "n" else lv.on_demand


def _money(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"


def note(lv: Levers, limits: Any) -> str:
    """One line: the levers with their cost, requests and wall time."""

    def part(name: str, t: Tally | None) -> str:
        if t is None:
            return f"{name} —"
        if t is lv.batch:  # its wall time is rounds of provider turnaround
            rounds = round(t.call_s / BATCH_TURNAROUND_S)
            plural = "" if rounds == 1 else "s"
            return (
                f"{name} {_money(t.cost)}, {t.sent:,.0f} requests, "
                f"{rounds} round{plural} of provider turnaround (≤ 24 h each)"
            )
        return f"{name} {_money(t.cost)}, {t.sent:,.0f} requests, ~{wall_seconds(t, limits):,.0f}s"

    if lv.on_demand is None:
        return "levers: not estimated (figures observed or routed)"
    if lv.pooled is lv.on_demand:  # no pool: nothing to draw in one request
        return f"levers: {part('on demand', lv.on_demand)}; {part('batch', lv.batch)}"
    runs = "one request of n per pool" if lv.pool_request == "n" else "one request per sample"
    return (
        f"levers: {part('on demand', lv.on_demand)}; {part('n-pooled', lv.pooled)}; "
        f"{part('batch', lv.batch)} (this run: {runs})"
    )
