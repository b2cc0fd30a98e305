"""`tts-bench`: a thin typer shell over the Python API.

Exit codes: 0 ok / gate passed, 1 gate failed, 2 bad input or usage (one line on stderr),
130 interrupted (records kept, resumable). Heavy libraries are imported inside commands so
`--help` and `--version` stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tts_bench import __version__
from tts_bench.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure what inference-time scaling (test-time compute) buys and costs.",
)
sim_app = typer.Typer(no_args_is_help=True, help="The simulated models.")
app.add_typer(sim_app, name="sim")

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tts-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    _state["debug"] = debug


def _console():  # rich is only imported when something is printed
    from rich.console import Console

    return Console()


def _fmt(v: Any, kind: str) -> str:
    if v is None:
        return "—"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "usd":
        return f"${v:.5f}" if v < 0.1 else f"${v:.3f}"
    if kind == "s":
        return f"{v:.2f}s"
    return str(v)


def print_table(records: list[dict[str, Any]], configs: list[str], title: str) -> None:
    from rich.table import Table

    from tts_bench.quicklook import table_rows

    t = Table(title=title)
    for col in ("config", "n", "accuracy", "cost/request", "P50", "P95", "failures"):
        t.add_column(col, justify="left" if col in ("config", "failures") else "right")
    for r in table_rows(records, configs):
        fails = ", ".join(f"{k} {v}" for k, v in r["failures"].items()) or "—"
        t.add_row(r["config"], str(r["n"]), _fmt(r["accuracy"], "pct"),
                  _fmt(r["cost_per_request"], "usd"), _fmt(r["p50_latency_s"], "s"),
                  _fmt(r["p95_latency_s"], "s"), fails)
    _console().print(t)


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parent folder of run directories.")] = Path("results"),
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name the run (re-using one resumes it).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Finish this run directory.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the response cache.")] = False,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="Stop before spending more (USD).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N items of the (sampled) set.")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip summary.json / report.html.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run SUITE: every item through the baseline and each scaling config."""
    from tts_bench.llm.offline import setup_offline_env

    setup_offline_env()
    from tts_bench.runner import Runner
    from tts_bench.suite import load

    s = load(suite)
    runner = Runner(s, out_dir=out, run_id=run_id, resume_dir=resume, use_cache=not no_cache,
                    max_cost=max_cost, where=str(suite))
    if limit is not None:
        keep = sorted(runner.by_id)[:limit]
        runner.by_id = {k: runner.by_id[k] for k in keep}
    progress = None
    if not quiet and sys.stderr.isatty():
        progress = _progress_bar()
    result = runner.run() if progress is None else progress.run(runner)
    configs = [c.name for c in s.configs]
    print_table(result.records, configs, f"{s.name} — {result.status}")
    typer.echo(f"run directory: {result.run_dir}")
    typer.echo(f"spent: ${result.spent_usd:.4f} (live calls; cache hits are free)")
    if not no_report and result.records:
        _write_reports(result.run_dir)
    if result.status == "interrupted":
        typer.echo(f"interrupted: resume with  tts-bench run {suite} --resume {result.run_dir}", err=True)
        raise typer.Exit(130)
    if result.status == "budget_exceeded":
        typer.echo(f"budget reached: resume with a higher --max-cost and --resume {result.run_dir}", err=True)


def _write_reports(run_dir: Path) -> None:
    """summary.json (+ report.html, summary.md when the report package is present)."""
    try:
        from tts_bench.analysis import write_summary
    except ImportError:
        return
    write_summary(run_dir)
    try:
        from tts_bench.report import write_report
    except ImportError:
        typer.echo(f"summary: {run_dir / 'summary.json'}")
        return
    html = write_report(run_dir)
    typer.echo(f"report: {html}")


class _progress_bar:
    """A rich progress bar fed by the runner's progress callback."""

    def run(self, runner: Any) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"),
                      TextColumn("errors {task.fields[errors]}"),
                      TextColumn("spent ${task.fields[spent]:.4f}"), TimeRemainingColumn(),
                      transient=True) as bar:
            task = bar.add_task("running", total=None, errors=0, spent=0.0)

            def update(p: dict[str, Any]) -> None:
                bar.update(task, completed=p["done"], total=p["total"], errors=p["errors"],
                           spent=p["spent_usd"])

            runner.progress = update
            return runner.run()


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="suites | strategies | models")] = "suites",
    suites_dir: Annotated[Path, typer.Option("--suites-dir")] = Path("suites"),
) -> None:
    """List suites, strategies or simulated models."""
    if what == "suites":
        for p in sorted(suites_dir.glob("*.yaml")):
            typer.echo(p)
    elif what == "strategies":
        from tts_bench.strategies import registry

        for name, fn in sorted(registry().items()):
            doc = (fn.__doc__ or "").strip().splitlines()
            typer.echo(f"{name:24} {doc[0] if doc else ''}")
    elif what == "models":
        from tts_bench.sim import list_models

        for m in list_models():
            typer.echo(m)
        typer.echo("…and any litellm model string (openai/…, anthropic/…, ollama/…)")
    else:
        raise UserError(f"list: unknown kind {what!r} (suites, strategies, models)")


@sim_app.command("serve")
def sim_serve(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    time_scale: Annotated[float, typer.Option("--time-scale", help="Real seconds per simulated second.")] = 1.0,
    fault: Annotated[list[str] | None, typer.Option("--fault", help="KIND=RATE, e.g. 429=0.1 (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for fault injection.")] = 0,
) -> None:
    """Serve the simulator as an OpenAI-compatible API (/v1/chat/completions, /v1/models)."""
    from tts_bench.sim.server import run_server

    rates: dict[str, float] = {}
    for f in fault or []:
        kind, _, rate = f.partition("=")
        try:
            rates[kind] = float(rate)
        except ValueError:
            raise UserError(f"--fault {f!r}: expected KIND=RATE, e.g. 429=0.1") from None
    run_server(host=host, port=port, time_scale=time_scale, fault_rates=rates, seed=seed)


@app.command()
def sample(
    input: Annotated[str, typer.Argument(help="JSONL/CSV/Parquet file or hf:owner/name.")],
    by: Annotated[str, typer.Option("--by", help="Comma-separated stratum columns.")] = "",
    size: Annotated[int, typer.Option("--size", help="Items to draw.")] = 200,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.jsonl/.csv/.parquet).")] = Path("sample.jsonl"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    equal: Annotated[bool, typer.Option("--equal", help="Equal allocation instead of proportional.")] = False,
    min_per_stratum: Annotated[int, typer.Option("--min-per-stratum")] = 0,
    dedup: Annotated[str | None, typer.Option("--dedup", help="Drop duplicate values of this text column.")] = None,
    bin_: Annotated[list[str] | None, typer.Option("--bin", help="COL:K quantile bins (repeatable).")] = None,
) -> None:
    """Draw a stratified evaluation set from operational logs."""
    from tts_bench.data import sample_file
    from tts_bench.llm.offline import setup_offline_env

    setup_offline_env()
    bins: dict[str, int] = {}
    for b in bin_ or []:
        col, _, k = b.partition(":")
        if not k.isdigit() or int(k) < 2:
            raise UserError(f"--bin {b!r}: expected COL:K with K >= 2")
        bins[col] = int(k)
    report = sample_file(input, by=[c for c in by.split(",") if c], size=size, out=out, seed=seed,
                         allocation="equal" if equal else "proportional",
                         min_per_stratum=min_per_stratum, dedup=dedup, bins=bins or None)
    from rich.table import Table

    t = Table(title=f"sample of {input}")
    for col in ("stratum", "population", "sampled", "share"):
        t.add_column(col)
    for row in report.table:
        t.add_row(str(row["stratum"]), str(row["population"]), str(row["sampled"]),
                  f"{100 * row['share']:.1f}%")
    _console().print(t)
    for w in report.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out}")


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        if _state["debug"]:
            raise
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: say so in one line unless --debug
        if _state["debug"]:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
