"""report.html: one self-contained file (inline CSS, JS, SVG and item data; no network).

Jinja2 with autoescape on everywhere; the only unescaped inserts are our own SVG plots and
the item data JSON (made safe for a <script> element by `items.script_json`). A run of more
than `items.PAGE_CELLS` (item, config) cells embeds the explorer's first page and writes the
others beside the page, in `report-items/` (docs/report.md, "Size").
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The bootstrap's products run on every core, then OpenBLAS's idle threads spin for about
# 2^28 cycles before they sleep, burning a core while the next block is converted: a third of
# the products' CPU. Spinning 2^4 cycles gives the same sums (the same threads split the same
# work) for less CPU. Read when numpy loads, which a report does after this module.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from tts_bench.report import fmt, plots
from tts_bench.report.items import PAGES_DIR, Pages, blob_json
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
    """(summary, manifest, records, calls), each file read once; recomputes the summary (from
    the records read here) when summary.json is absent, damaged, of another schema version,
    or older than records.jsonl / manifest.json (e.g. after a resume), so the page never shows
    stale figures. write: save it as summary.json (the caller holds the run's lock); False
    computes it in memory only, for readers of runs they do not own (`compare`)."""
    from tts_bench import store

    manifest = store.read_manifest(run_dir)
    summary = current_summary(run_dir)
    records = store.load_records(run_dir)
    if summary is None:
        summary, policy = _summarize(run_dir, manifest, records)
        if write:
            from tts_bench.analysis.summary import write_files

            write_files(run_dir, summary, policy)
    return summary, manifest, records, store.load_calls(run_dir)


def _summarize(
    run_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]], **knobs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, policy) from records already read; the summary as summary.json holds it."""
    from tts_bench.analysis.load import run_data
    from tts_bench.analysis.summary import summarize_data

    summary, policy = summarize_data(run_data(run_dir, manifest, records), **knobs)
    return json.loads(json.dumps(summary, allow_nan=False)), policy


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


def explorer_pages(
    summary: dict[str, Any],
    manifest: dict[str, Any],
    records: list[dict[str, Any]],
    calls: Iterable[dict[str, Any]],
) -> Pages:
    """The item explorer's pages, configs and strata in the summary's order; calls are read
    once (a generator will do)."""
    vm = build(summary, manifest)
    names = [c["name"] for c in vm["configs"]]
    strata_order = [f"{g['column']}={g['value']}" for g in vm["strata"]]
    return Pages(records, calls, names, vm["baseline"], strata_order=strata_order)


def render_html(
    summary: dict[str, Any],
    manifest: dict[str, Any],
    records: list[dict[str, Any]],
    calls: Iterable[dict[str, Any]],
    *,
    pages: Pages | None = None,
) -> str:
    """The report page as a string; pages: the explorer's (`explorer_pages`, built here when
    None), of which the first is embedded."""
    from tts_bench import __version__

    vm = build(summary, manifest)
    names = [c["name"] for c in vm["configs"]]
    base = next((c for c in vm["configs"] if c["is_baseline"]), None)
    if pages is None:
        pages = explorer_pages(summary, manifest, records, calls)
    blob = pages.blob(0)
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
            items_json=blob_json(blob),
            latency_notes=_group_notes(vm["configs"]),
            extra_columns=blob["configs"][len(names) :],
            truncated=any("more characters in the run directory]" in t for t in blob["texts"]),
            pages=blob["pages"] if pages.count > 1 else None,
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


def write_report(run_dir: Path | str, *, tables: Any = None) -> Path:
    """Write report.html and summary.md next to summary.json; return the report.html path.

    tables: (summary, manifest, records, calls) already in memory (`write_all`); None reads
    them (`read_run`). Both pages are rendered before either is written, and each is written
    atomically (temp file + rename), so a failure leaves the previous files whole and no temp
    file behind; the explorer's further pages, if any, replace `report-items/` as a whole
    just before the page that loads them."""
    rd = Path(run_dir)
    with gc_paused():
        return _write(rd, *_render(tables if tables is not None else read_run(rd)))


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused: reading and laying out a large run allocates
    millions of objects that all live to the end, and every full collection walks all of
    them again (a third of the item explorer's time at 10,000 items). A report makes few
    reference cycles; they are collected once it is done."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _render(tables: Any) -> tuple[Pages, str, str]:
    """(explorer pages, report.html, summary.md) of (summary, manifest, records, calls)."""
    from tts_bench.report.markdown import render_markdown

    summary, manifest, records, calls = tables
    pages = explorer_pages(summary, manifest, records, calls)
    page = render_html(summary, manifest, records, calls, pages=pages)
    return pages, page, render_markdown(summary, manifest)


def _write(rd: Path, pages: Pages, page: str, md: str) -> Path:
    from tts_bench.fsutil import atomic_write_text

    _write_pages(rd, pages)
    out = rd / "report.html"
    atomic_write_text(out, page)
    atomic_write_text(rd / "summary.md", md)
    return out


def _write_pages(rd: Path, pages: Pages) -> None:
    """report-items/ with every page but the first (removed when there is one page): written
    into a temporary directory, then swapped in."""
    import shutil
    import tempfile

    final = rd / PAGES_DIR
    if pages.count <= 1:
        shutil.rmtree(final, ignore_errors=True)
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{PAGES_DIR}.", dir=rd))
    try:
        for name, text in pages.files():
            (tmp / name).write_text(text, encoding="utf-8")
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{PAGES_DIR}.old.", dir=rd))
            final.rename(old / PAGES_DIR)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_all(run_dir: Path | str, **knobs: Any) -> Path:
    """summary.json, recommended-policy.yaml, report.html and summary.md from one read of
    the run directory (manifest, records, calls); returns the report.html path. knobs: the
    analysis' (`analysis.summarize`). Everything is read, computed and rendered before
    anything is written, so a damaged file is an error that leaves the previous outputs."""
    from tts_bench import store
    from tts_bench.analysis.summary import write_files

    rd = Path(run_dir)
    with gc_paused():
        manifest = store.read_manifest(rd)
        records = store.load_records(rd)
        summary, policy = _summarize(rd, manifest, records, **knobs)
        # calls only after the analysis has freed its bootstrap counts: the two never coexist.
        # Streamed: the explorer keeps a compact row of each, never the whole file as dicts
        # (a bad line is raised while the pages are built, before anything is written)
        calls = store.iter_calls(rd)
        rendered = _render((summary, manifest, records, calls))
        write_files(rd, summary, policy)
        return _write(rd, *rendered)
