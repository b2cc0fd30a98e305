"""The HTML report, summary.md and run comparison, from summary.json + the run directory.

`write_all(run_dir, **knobs)` writes summary.json, recommended-policy.yaml, report.html and
summary.md from one read of the run directory (what `tts-bench report` and `run` do);
`write_report(run_dir)` writes report.html and summary.md (and summary.json first if it is
absent, damaged or older than records.jsonl / manifest.json); `render_markdown(summary)` is
summary.md's text; `write_compare(run_dirs, out)` writes compare.html and returns the
warnings (mismatched items, configs, suites).
Heavy imports (jinja2, matplotlib) happen inside these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_report(run_dir: Path | str) -> Path:
    """Write run_dir/report.html and run_dir/summary.md; return the report.html path."""
    from tts_bench.report.html import write_report as _write

    return _write(run_dir)


def write_all(run_dir: Path | str, **knobs: Any) -> Path:
    """Write summary.json, recommended-policy.yaml, report.html and summary.md, reading the
    run directory once; return the report.html path. knobs: as `analysis.summarize` (None:
    the suite's `analysis:` block)."""
    from tts_bench.report.html import write_all as _write

    return _write(run_dir, **knobs)


def render_markdown(summary: dict[str, Any], manifest: dict[str, Any] | None = None) -> str:
    """summary.md content: verdict sentences, summary table, per-stratum table, routing."""
    from tts_bench.report.markdown import render_markdown as _render

    return _render(summary, manifest)


def write_compare(run_dirs: list[Path | str], out: Path | str) -> tuple[Path, list[str]]:
    """Write compare.html for two or more runs (the first is the reference); return its path
    and the warnings."""
    from tts_bench.report.compare import write_compare as _write

    return _write(run_dirs, out)


__all__ = ["render_markdown", "write_all", "write_compare", "write_report"]
