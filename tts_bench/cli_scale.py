"""`tts-bench merge`: shards of one run (`run --shard i/n`) joined into one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tts_bench.cli import _write_reports, app


@app.command()
def merge(
    shard_dirs: Annotated[
        list[Path],
        typer.Argument(help="The shards' run directories (`run --shard i/n`)."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The merged run directory (new, or empty).")
    ],
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Merge what exists when a shard is missing or unfinished (status `partial`, "
            "flagged in the manifest and the report).",
        ),
    ] = False,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip summary.json / report.html.")
    ] = False,
) -> None:
    """Merge the run directories of a run's shards into one ordinary run directory: records
    and calls in the unsplit run's order, spend summed, summary and report written."""
    from tts_bench.fsutil import locked
    from tts_bench.run.merge import merge as merge_runs

    result = merge_runs(shard_dirs, out, allow_partial=allow_partial)
    typer.echo(f"merged {len(shard_dirs)} shard(s), {result.n_records} records: {result.run_dir}")
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    if result.status != "complete":
        missing = ", ".join(map(str, result.missing)) or "none"
        unfinished = ", ".join(map(str, result.incomplete)) or "none"
        typer.echo(
            f"warning: partial merge (status {result.status}): shards missing {missing}; "
            f"unfinished {unfinished}",
            err=True,
        )
    if not no_report and result.n_records:
        with locked(result.run_dir):
            _write_reports(result.run_dir)
