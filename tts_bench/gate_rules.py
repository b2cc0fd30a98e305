"""Gate rules: loading and checking them, and judging one figure against one rule.

Metrics (units as in the rule's bound):
- `accuracy` — the scorer's mean (a fraction, 0.8 = 80%);
- `accuracy_delta` — paired difference vs the baseline config, or vs the same config of the
  `--against` run (a fraction: -0.02 = minus 2 points);
- `cost_per_request` — mean USD per request; `cost_ratio` — ratio of mean costs (paired);
- `p50_latency_s`, `p95_latency_s`, `p99_latency_s` — critical-path latency quantiles;
- `failure_rate[<label>]` — share of requests with that failure label
  (`failure_rate[infrastructure]` / `failure_rate[model]` for the two families);
- `unscored_rate` — share of requests without a score (infrastructure failures);
- `corrected_accuracy`, `corrected_accuracy_delta` — the accuracy and the paired delta vs the
  baseline config corrected by human review labels (prediction-powered, summary.json's
  `judged`; fractions); no labels imported: no value, the rule fails.

A latency rule is not judged for a config that ran in batch mode (the manifest's `batch`):
its latency is queue time, not model latency. The verdict passes with a note saying so;
`include_batch: true` on the rule judges it anyway.

`on: point` judges the point estimate; `on: ci` (the default for deltas and ratios) fails
only when the whole CI lies beyond the bound — a demonstrated regression — or, with
`strict: true`, whenever the CI does not exclude the regression.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tts_bench.errors import UserError
from tts_bench.suite import GateRule

RELATIVE = ("accuracy_delta", "cost_ratio")  # compared with a baseline (config or run)
ABSOLUTE = (
    "accuracy",
    "cost_per_request",
    "p50_latency_s",
    "p95_latency_s",
    "p99_latency_s",
    "unscored_rate",
)
FAILURE_RE = re.compile(r"^failure_rate\[([A-Za-z0-9_\-]+)\]$")
# from the human review (always vs this run's baseline config, never vs --against)
JUDGED = ("corrected_accuracy", "corrected_accuracy_delta")


def check_metric(metric: str, where: str) -> None:
    if metric in RELATIVE or metric in ABSOLUTE or metric in JUDGED or FAILURE_RE.match(metric):
        return
    known = ", ".join([*ABSOLUTE, *RELATIVE, *JUDGED, "failure_rate[<label>]"])
    raise UserError(f"{where}: unknown gate metric {metric!r} (known: {known})")


def default_on(rule: GateRule) -> str:
    return rule.on or (
        "ci" if rule.metric in RELATIVE or rule.metric == "corrected_accuracy_delta" else "point"
    )


def _check(rule: GateRule, where: str) -> GateRule:
    check_metric(rule.metric, f"{where}.metric")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise UserError(f"{where}: min {rule.min} is above max {rule.max}")
    if rule.metric in ("accuracy_delta", "corrected_accuracy_delta") and any(
        abs(b) > 1 for b in (rule.min, rule.max) if b is not None
    ):
        raise UserError(
            f"{where}: {rule.metric} bounds are fractions in [-1, 1] (-0.02 = minus 2 points)"
        )
    rates = ("accuracy", "unscored_rate", "corrected_accuracy")
    if (rule.metric in rates or rule.metric.startswith("failure_rate[")) and any(
        not 0 <= b <= 1 for b in (rule.min, rule.max) if b is not None
    ):
        raise UserError(f"{where}: {rule.metric} bounds are fractions in [0, 1]")
    return rule


def parse_rules(data: Any, source: str) -> list[GateRule]:
    """Rules from a YAML value: a list of rules, or a mapping with a `gates:` list."""
    if isinstance(data, dict) and set(data) == {"gates"}:
        data = data["gates"]
    if not isinstance(data, list):
        raise UserError(f"{source}: expected a list of gate rules (or a mapping with `gates:`)")
    out = []
    for i, raw in enumerate(data):
        where = f"{source}: gates[{i}]"
        if isinstance(raw, GateRule):
            out.append(_check(raw, where))
            continue
        if not isinstance(raw, dict):
            raise UserError(
                f"{where}: a rule must be a mapping like {{config: sc, metric: accuracy, min: 0.8}}"
            )
        try:
            rule = GateRule.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            msg = (
                "unknown key"
                if err["type"] == "extra_forbidden"
                else err["msg"].removeprefix("Value error, ")
            )
            raise UserError(f"{where}{'.' + field if field else ''}: {msg}") from None
        out.append(_check(rule, where))
    return out


def load_rules(suite_rules: list[GateRule] | None, rules_file: Path | None) -> list[GateRule]:
    """The rules to apply: those of `rules_file` when given (they replace the suite's), else
    the suite's `gates:`. UserError (one line) for a bad file or rule, or for no rules."""
    if rules_file is not None:
        from tts_bench.suite import read_yaml

        p = Path(rules_file)
        if not p.is_file():
            raise UserError(f"{p}: rules file not found")
        try:
            data = read_yaml(p)
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark else ""
            raise UserError(
                f"{p}:{line}: not a readable YAML file "
                f"({getattr(exc, 'problem', None) or type(exc).__name__})"
            ) from None
        rules = parse_rules(data, str(p))
    else:
        rules = parse_rules(list(suite_rules or []), "suite")
    if not rules:
        raise UserError("no gate rules: add `gates:` to the suite or pass --rules FILE")
    return rules


PERCENT = ("accuracy", "unscored_rate", "corrected_accuracy")  # shown in %; failure_rate[...] too


def fmt(metric: str, x: float | None, *, exact: bool = False) -> str:
    """A figure in the unit its metric is read in (accuracy_delta in points, rates in %).
    `exact`: keep every digit (for bounds the user wrote), else round for display."""
    if x is None:
        return "—"

    def num(v: float, places: int) -> str:
        s = f"{v:.{places}f}"
        return f"{v:g}" if exact and abs(float(s) - v) > 1e-9 * max(1.0, abs(v)) else s

    if metric in ("accuracy_delta", "corrected_accuracy_delta"):
        return f"{num(100 * x, 1)} pts" if exact else f"{100 * x:+.1f} pts"
    if metric in PERCENT or metric.startswith("failure_rate["):
        return f"{num(100 * x, 1)}%"
    if metric == "cost_per_request":
        return f"${x:g}" if exact else (f"${x:.6f}" if x < 0.01 else f"${x:.4f}")
    if metric == "cost_ratio":
        return f"{x:g}×" if exact else f"{x:.2f}×"
    return f"{x:g} s" if exact else f"{x:.2f} s"


def bound_text(rule: GateRule, *, units: bool = True) -> str:
    """`>= -2.0 pts and <= ...`: the rule's bounds, in the unit its figure is shown in
    (`units=False`: as written in the rule, e.g. `>= -0.02`)."""
    parts = []
    for op, b in ((">=", rule.min), ("<=", rule.max)):
        if b is not None:
            parts.append(f"{op} {fmt(rule.metric, b, exact=True) if units else f'{b:g}'}")
    return " and ".join(parts)


def rule_text(rule: GateRule, config: str) -> str:
    strict = ", strict" if rule.strict and default_on(rule) == "ci" else ""
    return (
        f"{config}: {rule.metric} {bound_text(rule, units=False)} (on {default_on(rule)}{strict})"
    )


def batch_skip(rule: GateRule, config: str, manifest: dict[str, Any]) -> str | None:
    """The note of a latency rule left unjudged for a batch-mode config, else None."""
    if not rule.metric.endswith("_latency_s") or rule.include_batch:
        return None
    if config not in (manifest.get("batch") or []):
        return None
    return "not judged: batch mode, latency is queue time (include_batch: true judges it)"


def judge(
    rule: GateRule, value: float | None, ci: tuple[float, float] | None
) -> tuple[bool, str, str]:
    """(passed, on, note) for one figure. A missing figure fails: a gate never passes on
    data it does not have. `on: ci` without a CI falls back to the point estimate."""
    on = default_on(rule)
    if value is None:
        return False, on, "no value (not measured, or unknown cost)"
    note = ""
    if on == "ci" and (ci is None or ci[0] is None or ci[1] is None):
        on, note = "point", "no CI available: judged on the point estimate"
    ok = True
    m = rule.metric

    def f(x: float) -> str:
        return fmt(m, x)

    def b(x: float) -> str:
        return fmt(m, x, exact=True)

    if on == "point":
        if rule.min is not None and value < rule.min:
            ok, note = False, f"{f(value)} < {b(rule.min)}"
        if rule.max is not None and value > rule.max:
            ok, note = False, f"{f(value)} > {b(rule.max)}"
        return ok, on, note
    lo, hi = ci  # type: ignore[misc]
    if rule.strict:  # the CI must exclude the regression
        if rule.min is not None and lo < rule.min:
            ok, note = False, f"CI lower bound {f(lo)} < {b(rule.min)} (strict)"
        if rule.max is not None and hi > rule.max:
            ok, note = False, f"CI upper bound {f(hi)} > {b(rule.max)} (strict)"
    else:  # fail only on a demonstrated regression: the whole CI beyond the bound
        if rule.min is not None and hi < rule.min:
            ok, note = False, f"whole CI below {b(rule.min)}"
        if rule.max is not None and lo > rule.max:
            ok, note = False, f"whole CI above {b(rule.max)}"
        if ok and (
            (rule.min is not None and lo < rule.min) or (rule.max is not None and hi > rule.max)
        ):
            note = "CI crosses the bound: no demonstrated regression"
    return ok, on, note
