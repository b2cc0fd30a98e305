"""The CI gate: rules → verdicts → exit code, JUnit XML and Markdown.

Figures and CIs come from the run's summary.json (recomputed in memory with
`tts_bench.analysis.summarize` when the file is missing, damaged, or older than records.jsonl
or manifest.json). With `against`, `accuracy_delta` and `cost_ratio` compare each config with
the same config of another run, paired by item id (`tts_bench.analysis.crossrun`, the
figures of `tts-bench compare`), with the analysis' intervals (Tango's paired score interval
for the delta, a stratified paired bootstrap for the cost ratio: the suite's resamples, seed
and confidence; the run's analysis strata).
Rules and their metrics are described in `tts_bench.gate_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.errors import UserError
from tts_bench.gate_rules import (
    FAILURE_RE,
    JUDGED,
    RELATIVE,
    batch_skip,
    bound_text,
    fmt,
    judge,
    load_rules,
    rule_text,
)
from tts_bench.suite import GateRule

__all__ = [
    "Verdict",
    "evaluate",
    "exit_code",
    "fmt",
    "load_rules",
    "paired_bootstrap",
    "run_rules",
    "to_junit",
    "to_markdown",
]
MIN_OVERLAP = 0.5


@dataclass
class Verdict:
    rule: str
    config: str
    metric: str
    value: float | None
    ci: tuple[float, float] | None
    bound: str
    on: str
    passed: bool
    note: str


# -- inputs ---------------------------------------------------------------------------------
def _manifest(run_dir: Path, allow_partial: bool) -> dict[str, Any]:
    from tts_bench.store import read_manifest

    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run directory not found")
    man = read_manifest(run_dir)
    status = man.get("status")
    if status not in ("complete", "imported") and not allow_partial:
        raise UserError(
            f"{run_dir}: run status is {status!r}, not 'complete' (pass --allow-partial to gate it)"
        )
    return man


def run_rules(run_dir: Path | str) -> list[GateRule]:
    """The `gates:` of the suite the run was made with (from its manifest)."""
    from tts_bench.store import read_manifest

    gates = (read_manifest(Path(run_dir)).get("suite") or {}).get("gates") or []
    return [GateRule.model_validate(g) for g in gates]


def summary_of(run_dir: Path) -> dict[str, Any]:
    """summary.json when it is current (the report's check), else the same summary computed
    in memory."""
    from tts_bench.report.model import current_summary

    data = current_summary(run_dir)
    if data is not None:
        return data
    from tts_bench.analysis import summarize

    return summarize(run_dir)


# -- figures from the summary -------------------------------------------------------------------
def _ci(block: dict[str, Any] | None, scale: float = 1.0) -> tuple[float, float] | None:
    ci = (block or {}).get("ci") or [None, None]
    return None if ci[0] is None or ci[1] is None else (ci[0] * scale, ci[1] * scale)


def _rate(count: int, n: int, confidence: float) -> tuple[float | None, tuple[float, float] | None]:
    from tts_bench.analysis.stats import wilson

    return (count / n if n else None), wilson(count, n, confidence) if n else None


def figure(entry: dict[str, Any], metric: str, confidence: float) -> tuple[float | None, Any, str]:
    """(value, CI, note) of a metric for one config entry of summary.json."""
    n = entry.get("n_items") or 0
    if metric == "accuracy":
        acc = entry.get("accuracy") or {}
        return acc.get("value"), _ci(acc), ""
    if metric == "cost_per_request":
        cost = entry.get("cost") or {}
        unknown = cost.get("n_unknown") or 0
        if unknown:
            return None, None, f"cost unknown for {unknown} requests (no price)"
        return cost.get("mean_usd"), None, ""
    if metric.endswith("_latency_s"):
        q = metric.split("_")[0]
        block = (entry.get("latency") or {}).get(q) or {}
        ci = _ci(block)
        # the summary's own note names every short quantile; say only this one's
        short = block.get("value") is not None and ci is None
        note = f"too few items for a finite {q.upper()} bound at {confidence:.0%}" if short else ""
        return block.get("value"), ci, note
    if metric == "unscored_rate":
        v, ci = _rate(entry.get("unscored") or 0, n, confidence)
        return v, ci, "Wilson interval"
    m = FAILURE_RE.match(metric)
    if m:
        label, fails = m.group(1), entry.get("failures") or {}
        count = (
            (fails.get(label) or {}).get("count", 0)
            if label in ("infrastructure", "model")
            else ((fails.get("counts") or {}).get(label, 0))
        )
        v, ci = _rate(int(count), n, confidence)
        return v, ci, "Wilson interval"
    delta = entry.get("delta")
    if delta is None:
        return None, None, "the baseline has no delta"
    if metric == "accuracy_delta":
        block = delta.get("accuracy_points") or {}
        v = block.get("value")
        return (
            (None if v is None else v / 100),
            _ci(block, 0.01),
            f"vs baseline, {delta.get('n_paired')} paired items",
        )
    block = delta.get("cost_ratio") or {}
    return block.get("value"), _ci(block), "vs baseline"


def judged_figure(
    summary: dict[str, Any], config: str, metric: str
) -> tuple[float | None, Any, str]:
    """(value, CI, note) of `corrected_accuracy` or `corrected_accuracy_delta` (a fraction, vs
    the baseline config) from summary.json's `judged` block; no value without human labels."""
    judged = summary.get("judged")
    if not isinstance(judged, dict):
        return None, None, "no human labels (tts-bench review import RUN labels.csv)"
    entry = next((e for e in judged.get("configs") or [] if e.get("config") == config), None)
    if entry is None:
        return None, None, "no human labels for this config"
    if metric == "corrected_accuracy":
        block = entry.get("corrected") or {}
    else:
        if entry.get("delta") is None:
            return None, None, "the baseline has no delta"
        block = (entry.get("delta") or {}).get("corrected") or {}
    n = block.get("n_labelled")
    return block.get("value"), _ci(block), f"corrected by {n} human-labelled items"


# -- two runs, paired by item -------------------------------------------------------------------
def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    ratio: bool = False,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    strata: list[str] | None = None,
) -> tuple[float | None, tuple[float, float] | None]:
    """Point and CI of mean(a − b) (or mean(a) / mean(b) with `ratio`) over
    paired items: `analysis.crossrun.paired_arrays` with b as the reference."""
    from tts_bench.analysis.crossrun import paired_arrays

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0:
        return None, None
    # the pair goes in as scorer values (a delta) or as costs (a ratio of means); the other
    # figures get NaN (unknown) and come back None
    none = (np.full(a.size, np.nan),) * 2
    pairs = (b, a)
    out = paired_arrays(
        none if ratio else pairs,
        pairs if ratio else none,
        none,
        strata=strata,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )
    if ratio:
        v, lo, hi = out["cost_ratio"], out["cost_ratio_lo"], out["cost_ratio_hi"]
    else:
        v, lo, hi = (
            None if x is None else x / 100 for x in (out["delta"], out["delta_lo"], out["delta_hi"])
        )
    return v, (None if lo is None or hi is None else (float(lo), float(hi)))


class Pairing:
    """Two runs' records laid side by side per config, by item id."""

    def __init__(self, run_dir: Path, against: Path) -> None:
        from tts_bench.analysis.load import load_run
        from tts_bench.analysis.summary import resample_strata

        self.a, self.b = load_run(run_dir), load_run(against)
        self.against = against
        _, labels = resample_strata(self.a)
        self.strata = dict(zip(self.a.items, labels, strict=True)) if labels else None
        fa, fb = (d.manifest.get("dataset_fingerprint") for d in (self.a, self.b))
        self.fingerprint_note = "" if fa == fb else "the runs' datasets differ (fingerprints); "
        self._deltas: dict[str, tuple[dict[str, Any], str]] = {}  # rules share a config's pairing
        self._counts: dict[Any, Any] = {}  # configs share the bootstrap counts of their items

    def _pair(self, config: str) -> tuple[dict[str, Any], str]:
        from tts_bench.analysis.crossrun import paired_delta

        a, b = self.a, self.b
        if config not in b.configs:
            raise UserError(f"{self.against}: has no config {config!r} to compare with")
        ra, rb = (
            {i: r for i, r in zip(d.items, d.records[d.index(config)], strict=True) if r}
            for d in (a, b)
        )
        n_common = len(ra.keys() & rb.keys())
        n_max = max(len(ra), len(rb))
        if n_common / max(n_max, 1) < MIN_OVERLAP:
            raise UserError(
                f"{self.against}: only {n_common} of {n_max} items of config "
                f"{config!r} are in both runs (need at least half to pair them)"
            )
        note = self.fingerprint_note
        n_union = len(ra.keys() | rb.keys())
        if n_common < n_union:
            note += f"{n_union - n_common} items in only one run, left out; "
        an = a.analysis
        d = paired_delta(
            rb,
            ra,
            strata=self.strata,
            resamples=an.resamples,
            seed=an.seed,
            confidence=an.confidence,
            counts=self._counts,
        )
        return d, note

    def compare(self, config: str, metric: str) -> tuple[float | None, Any, str]:
        """(value, CI, note) of `accuracy_delta` (fraction, run − against) or `cost_ratio`
        (run / against) from `analysis.crossrun.paired_delta`, resampled within the run's
        analysis strata."""
        if config not in self._deltas:
            self._deltas[config] = self._pair(config)
        d, note = self._deltas[config]
        if metric == "accuracy_delta":
            v, lo, hi = (
                None if x is None else x / 100 for x in (d["delta"], d["delta_lo"], d["delta_hi"])
            )
            n = d["n_paired"]
        else:
            if d["n_cost_unknown"]:
                return None, None, note + f"cost unknown for {d['n_cost_unknown']} paired requests"
            v, lo, hi, n = d["cost_ratio"], d["cost_ratio_lo"], d["cost_ratio_hi"], d["n_cost"]
        ci = None if lo is None or hi is None else (float(lo), float(hi))
        return v, ci, note + f"vs {self.against.name}, {n} paired items"


# -- evaluation ---------------------------------------------------------------------------------
def evaluate(
    run_dir: Path | str,
    *,
    rules: list[GateRule],
    against: Path | None = None,
    allow_partial: bool = False,
    history: Path | None = None,
) -> list[Verdict]:
    """One verdict per (rule, config), `config: "*"` expanded (without the baseline for
    deltas vs the baseline); with `history` (a results directory), then the drift checks
    against the last accepted run there (`tts_bench.gate_history`). UserError for a missing
    or incomplete run (unless `allow_partial`), an unknown config, or runs whose items
    barely overlap."""
    rd = Path(run_dir)
    manifest = _manifest(rd, allow_partial)
    pairing = None
    if against is not None:
        _manifest(Path(against), allow_partial)
        pairing = Pairing(rd, Path(against))
    summary = summary_of(rd)
    meta = summary.get("meta") or {}
    confidence = float(meta.get("confidence") or 0.95)
    entries = {e["config"]: e for e in summary.get("configs") or []}
    baseline = meta.get("baseline")
    out: list[Verdict] = []
    for rule in rules:
        relative = rule.metric in RELATIVE
        if rule.config == "*":
            names = [n for n in entries if pairing is not None or not relative or n != baseline]
            if pairing is not None and relative:
                names = [n for n in names if n in pairing.b.configs]
            if rule.metric == "corrected_accuracy_delta":
                names = [n for n in names if n != baseline]
        elif rule.config in entries:
            names = [rule.config]
        else:
            raise UserError(
                f"{rd}: gate rule names config {rule.config!r}, not in the run ({', '.join(entries)})"
            )
        for name in names:
            if rule.metric in JUDGED:
                value, ci, note = judged_figure(summary, name, rule.metric)
            elif relative and pairing is not None:
                value, ci, note = pairing.compare(name, rule.metric)
            else:
                value, ci, note = figure(entries[name], rule.metric, confidence)
            passed, on, why = judge(rule, value, ci)
            if skipped := batch_skip(rule, name, manifest):
                passed, why = True, skipped
            out.append(
                Verdict(
                    rule=rule_text(rule, name),
                    config=name,
                    metric=rule.metric,
                    value=value,
                    ci=ci,
                    bound=bound_text(rule),
                    on=on,
                    passed=passed,
                    note="; ".join(x.strip("; ") for x in (why, note) if x),
                )
            )
    if history is not None:
        from tts_bench.gate_history import history_verdicts

        out.extend(history_verdicts(rd, history, summary))
    return out


def exit_code(verdicts: list[Verdict]) -> int:
    """0 when every verdict passed, 1 when any failed."""
    return 0 if all(v.passed for v in verdicts) else 1


# -- output ---------------------------------------------------------------------------------------
def row(v: Verdict, *, markup: bool = True) -> dict[str, str]:
    """Display strings of a verdict: rule, value, ci, bound, result, note. `markup`: escape
    square brackets for a rich table (else `failure_rate[format_violation]` loses its label
    as an unknown style tag); False for plain text (Markdown, JUnit)."""
    ci = "—" if v.ci is None else f"[{fmt(v.metric, v.ci[0])}, {fmt(v.metric, v.ci[1])}]"
    out = {
        "rule": v.rule,
        "value": fmt(v.metric, v.value),
        "ci": ci,
        "bound": v.bound,
        "result": "PASS" if v.passed else "FAIL",
        "note": v.note,
    }
    if markup:
        from rich.markup import escape

        out = {k: escape(s) for k, s in out.items()}
    return out


def to_markdown(verdicts: list[Verdict]) -> str:
    failed = sum(not v.passed for v in verdicts)
    head = f"### tts-bench gate: {'FAIL' if failed else 'PASS'} ({len(verdicts) - failed}/{len(verdicts)} rules passed)\n\n"
    lines = ["| result | rule | value | CI | bound | note |", "|---|---|---|---|---|---|"]
    for v in verdicts:
        r = {k: s.replace("|", "\\|") for k, s in row(v, markup=False).items()}
        mark = "✅ PASS" if v.passed else "❌ FAIL"
        lines.append(
            f"| {mark} | {r['rule']} | {r['value']} | {r['ci']} | {r['bound']} | {r['note']} |"
        )
    return head + "\n".join(lines) + "\n"


def to_junit(verdicts: list[Verdict], suite_name: str) -> str:
    """JUnit XML: one testsuite, one testcase per (rule, config), a <failure> when it failed."""
    import xml.etree.ElementTree as ET

    failures = sum(not v.passed for v in verdicts)
    root = ET.Element(
        "testsuites", name="tts-bench gate", tests=str(len(verdicts)), failures=str(failures)
    )
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite_name,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for v in verdicts:
        r = row(v, markup=False)
        tc = ET.SubElement(
            ts, "testcase", classname=f"tts_bench.gate.{suite_name}", name=v.rule, time="0"
        )
        detail = f"value {r['value']}, CI {r['ci']}, bound {r['bound']} (on {v.on})" + (
            f"; {v.note}" if v.note else ""
        )
        if v.passed:
            ET.SubElement(tc, "system-out").text = detail
        else:
            ET.SubElement(
                tc, "failure", message=f"{v.rule}: {r['value']}", type="GateFailed"
            ).text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
