"""report.html: one self-contained file (inline CSS, JS, SVG and item data; no network).

Jinja2 with autoescape on everywhere; the only unescaped inserts are our own SVG plots and
the item data JSON (made safe for a <script> element by `items.script_json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tts_bench.report import fmt, plots
from tts_bench.report.items import item_blob, script_json
from tts_bench.report.model import build, current_summary
from tts_bench.report.verdict import config_sentence, facts, power_sentence, routing_sentence

CAPTIONS = {
    "saturation": "Accuracy vs N from one sample pool per config (exact over all k-subsets), "
    "95% CI band; dashed: pass@k, the ceiling a perfect verifier would reach; ★ saturation point "
    "(only where the analysis confirmed saturation: the gain left after it is within ε).",
    "cost_accuracy": "Every config as run (large dots) and every N of every pool (small dots); "
    "the step line is the Pareto frontier.",
    "latency": "Critical-path latency per request; | marks P50, ◆ marks P95.",
    "strata": "Accuracy per stratum value and config.",
    "failures": "Share of requests by outcome: correct, model failures, infrastructure failures "
    "(greys; unscored, never counted wrong).",
}


def env() -> Any:
    """The Jinja2 environment: templates from the package, autoescape on for everything."""
    import jinja2

    e = jinja2.Environment(
        loader=jinja2.PackageLoader("tts_bench.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in ("pct", "pts", "ratio", "usd", "secs", "pvalue", "latencies", "tokens"):
        e.filters[name] = getattr(fmt, name)
        e.globals[name] = getattr(fmt, name)
    return e


def read_run(
    run_dir: Path, *, write: bool = True
) -> tuple[dict[str, Any], dict[str, Any], list[dict], list[dict]]:
    """(summary, manifest, records, calls); recomputes the summary when summary.json is
    absent, damaged, of another schema version, or older than records.jsonl / manifest.json
    (e.g. after a resume), so the page never shows stale figures. write: save it as
    summary.json (the caller holds the run's lock); False computes it in memory only, for
    readers of runs they do not own (`compare`)."""
    from tts_bench import store

    manifest = store.read_manifest(run_dir)
    summary = current_summary(run_dir)
    if summary is None and not write:
        from tts_bench.analysis import summarize

        summary = summarize(run_dir)
    elif summary is None:
        from tts_bench.analysis import write_summary

        path = write_summary(run_dir)
        summary = json.loads(path.read_text(encoding="utf-8"))
    return summary, manifest, store.load_records(run_dir), store.load_calls(run_dir)


def latencies(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Critical-path latency per config, of requests that completed (view-only)."""
    out: dict[str, list[float]] = {}
    for r in records:
        v = r.get("latency_s")
        if r.get("status", "ok") == "ok" and fmt.ok(v) and v > 0:
            out.setdefault(str(r["config"]), []).append(float(v))
    return out


def all_plots(vm: dict[str, Any], lat: dict[str, list[float]]) -> list[dict[str, str]]:
    run = [{"label": "", "configs": vm["configs"], "pareto": vm["pareto"]}]
    names = [c["name"] for c in vm["configs"]]
    svgs = {
        "saturation": plots.saturation(run, vm["metric"]),
        "cost_accuracy": plots.cost_accuracy(run, vm["metric"]),
        "latency": plots.latency(run, [lat]),
        "strata": plots.strata_heatmap(vm["strata"], names, vm["metric"]),
        "failures": plots.failures(vm["configs"]),
    }
    out = [{"name": k, "svg": v, "caption": CAPTIONS[k]} for k, v in svgs.items()]
    withheld = [f"{c['name']}: {c['curve_note']}" for c in vm["configs"] if c.get("curve_note")]
    if withheld:  # a config that sampled but has no curve: say why
        out[0]["caption"] += " No curve for " + "; ".join(withheld) + "."
    return out


def render_html(
    summary: dict[str, Any],
    manifest: dict[str, Any],
    records: list[dict[str, Any]],
    calls: list[dict[str, Any]],
) -> str:
    """The report page as a string."""
    from tts_bench import __version__

    vm = build(summary, manifest)
    names = [c["name"] for c in vm["configs"]]
    base = next((c for c in vm["configs"] if c["is_baseline"]), None)
    strata_order = [f"{g['column']}={g['value']}" for g in vm["strata"]]
    blob = item_blob(records, calls, names, vm["baseline"], strata_order=strata_order)
    return (
        env()
        .get_template("report.html.j2")
        .render(
            vm=vm,
            facts=facts(manifest, summary),
            sentences={c["name"]: config_sentence(c, vm["metric"], base) for c in vm["configs"]},
            routing_sentence=routing_sentence(vm["routing"]),
            power_sentence=power_sentence(vm),
            plots=all_plots(vm, latencies(records)),
            items_json=script_json(blob),
            latency_notes=_group_notes(vm["configs"]),
            extra_columns=blob["configs"][len(names) :],
            truncated=any("more characters in the run directory]" in t for t in blob["texts"]),
            tool_version=__version__,
        )
    )


def _group_notes(configs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Identical latency notes once, with the configs they apply to."""
    out: dict[str, list[str]] = {}
    for c in configs:
        if c.get("latency_note"):
            out.setdefault(c["latency_note"], []).append(c["name"])
    return out


def write_report(run_dir: Path | str) -> Path:
    """Write report.html and summary.md next to summary.json; return the report.html path.

    Both pages are rendered before either is written, and each is written atomically (temp
    file + rename), so a failure leaves the previous files whole and no temp file behind."""
    from tts_bench.fsutil import atomic_write_text
    from tts_bench.report.markdown import render_markdown

    rd = Path(run_dir)
    summary, manifest, records, calls = read_run(rd)
    page = render_html(summary, manifest, records, calls)
    md = render_markdown(summary, manifest)
    out = rd / "report.html"
    atomic_write_text(out, page)
    atomic_write_text(rd / "summary.md", md)
    return out
