"""The `review` verbs: `export` a blinded, stratified sample of a run's outputs for human
review (a keyboard-driven page and a CSV), `import` the labels back into the run directory,
and `plan` the number of labels a target interval needs. Each only parses and prints; the
work is in `tts_bench.review` and `tts_bench.analysis.ppi`. Registered on the app of
`tts_bench.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tts_bench.cli import app
from tts_bench.errors import UserError

review_app = typer.Typer(
    no_args_is_help=True, help="Human review of a run's outputs: export, import, plan."
)
app.add_typer(review_app, name="review")


@review_app.command("export")
def review_export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    size: Annotated[
        int, typer.Option("--size", help="Items to review (every config's output).")
    ] = 60,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Comma-separated strata columns (default: the suite's sample.by)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling and shuffling seed.")] = 0,
    equal: Annotated[
        bool, typer.Option("--equal", help="Equal allocation across strata, not proportional.")
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="The review page.")] = Path(
        "review.html"
    ),
) -> None:
    """Write a review page (and a CSV beside it) for a stratified sample of RUN_DIR's items."""
    from tts_bench.fsutil import locked
    from tts_bench.review.export import export_review
    from tts_bench.store import read_manifest

    read_manifest(run_dir)
    cols = None if by is None else [c.strip() for c in by.split(",") if c.strip()]
    with locked(run_dir):  # design.json goes into the run directory
        res = export_review(
            run_dir,
            out,
            size=size,
            by=cols,
            seed=seed,
            allocation="equal" if equal else "proportional",
        )
    if res.input_note:
        typer.echo(f"warning: inputs not shown: {res.input_note}", err=True)
    typer.echo(f"{res.n_items} items, {res.n_units} outputs to label")
    typer.echo(f"page: {res.page}")
    typer.echo(f"csv: {res.csv}")
    typer.echo(f"design: {res.design}")


@review_app.command("import")
def review_import(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    labels: Annotated[Path, typer.Argument(help="labels.csv (from the page or the CSV).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop the labels stored before (default: merge).")
    ] = False,
) -> None:
    """Validate LABELS against RUN_DIR and store them in RUN_DIR/review/labels.jsonl."""
    from tts_bench.fsutil import locked
    from tts_bench.review.labels import import_labels
    from tts_bench.store import read_manifest

    read_manifest(run_dir)
    with locked(run_dir):
        res = import_labels(run_dir, labels, replace=replace)
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(
        f"{res.added} new, {res.changed} changed, {res.unchanged} unchanged labels "
        f"({res.blank} rows left blank); {res.total} labels in {res.path}"
    )
    typer.echo(f"run `tts-bench report {run_dir}` for the agreement and corrected figures")


@review_app.command("plan")
def review_plan(
    width: Annotated[
        float,
        typer.Option(
            "--width", help="Target 95% CI half-width of the corrected accuracy (points)."
        ),
    ] = 5.0,
    items: Annotated[int, typer.Option("--items", help="Items the judge scores.")] = 1000,
    disagreement: Annotated[
        float, typer.Option("--disagreement", help="Assumed judge-human disagreement rate.")
    ] = 0.1,
    from_run: Annotated[
        Path | None,
        typer.Option("--from", help="Take the disagreement rate and items from this run's labels."),
    ] = None,
) -> None:
    """How many human-labelled items a target CI half-width of the corrected accuracy needs."""
    from tts_bench.analysis.ppi import review_size_line

    if not 0 < width < 100 or not 0 <= disagreement <= 1 or items < 1:
        raise UserError("--width in (0, 100) points, --disagreement in [0, 1], --items >= 1")
    typer.echo(review_size_line(width, items=items, disagreement=disagreement, run_dir=from_run))
