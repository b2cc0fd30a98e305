"""`tts-bench`: a thin typer shell over the Python API.

Exit codes: 0 ok / gate passed, 1 gate failed, 2 bad input or usage or a failed run (one
line on stderr), 130 interrupted (records kept, resumable); docs/guarantees.md. Heavy libraries are imported inside commands so
`--help` and `--version` stay fast.
"""

from __future__ import annotations

import re
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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _console():  # rich is only imported when something is printed
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that rows do not wrap
        console = Console(width=max(console.width, 140))
    return console


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

    rows = table_rows(records, configs)
    # a judged suite's evaluation cost per request, apart from the serving cost
    judged = any(r["eval_cost_per_request"] != 0.0 for r in rows)
    t = Table(title=title)
    cols = ("config", "items", "accuracy", "cost/request", "P50", "P95", "failures")
    for col in (*cols, "eval/request") if judged else cols:
        t.add_column(col, justify="left" if col in ("config", "failures") else "right")
    for r in rows:
        fails = ", ".join(f"{k} {v}" for k, v in r["failures"].items()) or "—"
        cells = [
            r["config"],
            str(r["n"]),
            _fmt(r["accuracy"], "pct"),
            _fmt(r["cost_per_request"], "usd"),
            _fmt(r["p50_latency_s"], "s"),
            _fmt(r["p95_latency_s"], "s"),
            fails,
        ]
        t.add_row(*cells, *([_fmt(r["eval_cost_per_request"], "usd")] if judged else []))
    _console().print(t)


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Parent folder of run directories.")
    ] = Path("results"),
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id", help="Name the run: letters, digits, . _ - (re-using one resumes it)."
        ),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help="Finish this run directory.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Bypass the response cache.")
    ] = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Stop before spending more (USD).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="A stratified subset of N items, for a quick look."),
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip summary.json / report.html.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Send every config's calls in provider batches (OpenAI, Anthropic): "
            "batch prices, answers within the provider's batch window.",
        ),
    ] = False,
    no_preflight: Annotated[
        bool,
        typer.Option(
            "--no-preflight",
            help="Skip the cheap call per model (as `check` makes) before the run starts.",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Run only shard I of N (numbered 1..N, e.g. 2/3): a stratified part of the "
            "items, taken after --limit; `tts-bench merge` joins the N run directories.",
        ),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            metavar="local|ray",
            help="Where the pairs run: this process, or Ray workers (pip install "
            "'tts-bench[ray]'); this process writes the run directory either way.",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="The Ray cluster (ray://HOST:10001, auto); default: a local Ray instance.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Ray workers (shards of the items); default: one per CPU."),
    ] = None,
) -> None:
    """Run SUITE: every item through the baseline and each scaling config."""
    from tts_bench.run.executors import make_executor
    from tts_bench.run.schedule import parse_shard
    from tts_bench.runner import Runner
    from tts_bench.suite import load

    part = parse_shard(shard) if shard is not None else None
    runs_on = make_executor(executor, address=ray_address, workers=workers)
    s = load(suite)  # the runner sets the offline switches (the hub only for hf: datasets)
    runner = Runner(
        s,
        out_dir=out,
        run_id=run_id,
        resume_dir=resume,
        use_cache=not no_cache,
        max_cost=max_cost,
        limit=limit,
        where=str(suite),
        preflight=not no_preflight,
        shard=part,
        batch=batch,
        executor=runs_on,
    )
    if not quiet:  # batch mode's line (a resumed batch run's too, known once it starts)
        runner.on_batch = _batch_line()
    progress = None
    if not quiet and sys.stderr.isatty():
        progress = _progress_bar()
    result = runner.run() if progress is None else progress.run(runner)
    configs = [c.name for c in s.configs]
    print_table(result.records, configs, f"{s.name} — {result.status}")
    if result.already_complete:  # nothing run, nothing written (reports included)
        typer.echo(
            f"run {result.run_dir}: already complete, nothing to do "
            f"(`tts-bench report {result.run_dir}` rewrites its report)"
        )
        return
    typer.echo(f"run directory: {result.run_dir}")
    typer.echo(f"spent: ${result.spent_usd:.4f} (live calls; cache hits are free)")
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    if result.status == "failed":
        raise UserError(f"run {result.run_dir} failed: {result.error}")
    if result.error:  # a fatal error in a run that was interrupted first
        typer.echo(f"warning: {result.error}", err=True)
    if not no_report and result.records:
        from tts_bench.fsutil import RunLock

        try:  # the run's own lock is released by now
            lock = RunLock(result.run_dir).acquire()
        except UserError as exc:  # another process took the directory: the run stands
            typer.echo(f"warning: report not written: {exc}", err=True)
        else:
            try:
                _write_reports(result.run_dir)
            finally:
                lock.release()
    if result.status == "interrupted":
        typer.echo(
            f"interrupted: resume with  tts-bench run {suite} --resume {result.run_dir}", err=True
        )
        raise typer.Exit(130)
    if result.status == "budget_exceeded":
        typer.echo(
            f"budget reached: resume with a higher --max-cost and --resume {result.run_dir}",
            err=True,
        )


def _batch_line() -> Any:
    """Batch mode's progress line on stderr, printed when its counts change."""
    last = [""]

    def show(counts: Any) -> None:
        line = (
            f"batches: {counts.pending} pending, {counts.done} done; "
            f"requests: {counts.succeeded} succeeded, {counts.errored} errored"
        )
        if line != last[0]:
            last[0] = line
            typer.echo(line, err=True)

    return show


def _write_reports(run_dir: Path) -> None:
    """summary.json, report.html and summary.md from one read of the run directory
    (summary.json alone when the report package is absent)."""
    try:
        from tts_bench.report import write_all
    except ImportError:
        from tts_bench.analysis import write_summary

        typer.echo(f"summary: {write_summary(run_dir)}")
        return
    typer.echo(f"report: {write_all(run_dir)}")


class _progress_bar:
    """A rich progress bar fed by the runner's progress callback."""

    def run(self, runner: Any) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("spent ${task.fields[spent]:.4f}"),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            # every pair of the suite until the runner's first frame (resumes: minus the done)
            total = len(runner.items) * len(runner.suite.configs)
            task = bar.add_task("running", total=total, errors=0, spent=0.0)

            def update(p: dict[str, Any]) -> None:
                bar.update(
                    task,
                    completed=p["done"],
                    total=p["total"],
                    errors=p["errors"],
                    spent=p["spent_usd"],
                )

            runner.progress = update
            return runner.run()


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="suites | strategies | models")] = "suites",
    suites_dir: Annotated[
        Path, typer.Option("--suites-dir", help="Folder of suite files (for `list suites`).")
    ] = Path("suites"),
    suite: Annotated[
        Path | None, typer.Option("--suite", help="Also list this suite's sim_profiles.")
    ] = None,
) -> None:
    """List suites, strategies or simulated models."""
    if what == "suites":
        from tts_bench.suite import read_yaml

        found = sorted(suites_dir.glob("*.yaml"))
        if not found:
            raise UserError(f"{suites_dir}: no suite files here (give --suites-dir DIR)")
        listed = 0
        for p in found:
            try:
                data = read_yaml(p)
            except Exception:  # a broken suite is still listed; `run` names its problem
                data = {"dataset": None, "configs": None, "description": "(unreadable)"}
            # a suite has a dataset and configs: gate rules, import specs and other YAML do not
            if not isinstance(data, dict) or not {"dataset", "configs"} <= data.keys():
                continue
            desc, listed = data.get("description", ""), listed + 1
            typer.echo(f"{str(p):28} {str(desc).strip().splitlines()[0] if desc else ''}")
        if not listed:
            raise UserError(f"{suites_dir}: no suite files here (give --suites-dir DIR)")
    elif what == "strategies":
        from tts_bench.strategies import registry

        for name, fn in sorted(registry().items()):
            doc = " ".join((fn.__doc__ or "").split("\n\n")[0].split())  # the first paragraph
            first = re.split(r"(?<!\bal)\.(?:\s|$)", doc)[
                0
            ]  # its first sentence ("et al." is not an end)
            typer.echo(f"{name:22} {first if len(first) <= 110 else first[:109] + '…'}")
    elif what == "models":
        from tts_bench.sim import list_models, price

        profiles = None
        if suite is not None:
            from tts_bench.suite import load

            profiles = load(suite).sim_profiles
        for m in list_models(profiles):
            p_in, p_out = price(m, profiles)
            typer.echo(f"{m:20} ${p_in:g} / ${p_out:g} per 1M tokens in / out")
        typer.echo("…and any litellm model string (openai/…, anthropic/…, ollama/…)")
    else:
        raise UserError(f"list: unknown kind {what!r} (suites, strategies, models)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# typer's (vendored) click UsageError: bad options and arguments, missing ones, no arguments
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def main() -> None:
    try:
        # not standalone: a usage error is raised here and said in one line, not a rich box
        from tts_bench import cli_help

        code = cli_help.apply(typer.main.get_command(app))(standalone_mode=False)
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `tts-bench`: the help
            exc.show()
            sys.exit(2)
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
        typer.echo(f"error: {_one_line(exc.format_message())}{where}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except UserError as exc:
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        if _state["debug"]:
            raise
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:  # a path the user gave cannot be read or written
        if _state["debug"]:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a bug, not bad input: say so in one line unless --debug
        if _state["debug"]:
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(run with --debug for details)",
            err=True,
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


# The other verbs register themselves on `app` (imported last: they import this module).
from tts_bench import cli_review, cli_runs, cli_scale, cli_verbs  # noqa: E402, F401

if __name__ == "__main__":  # `python -m tts_bench.cli`: run the imported module's app
    from tts_bench.cli import main as _main_of_module

    _main_of_module()
