"""`tts-bench`: a thin typer shell over the Python API.

Exit codes: 0 ok / gate passed, 1 gate failed, 2 bad input or usage (one line on stderr),
130 interrupted (records kept, resumable). Heavy libraries are imported inside commands so
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

    t = Table(title=title)
    for col in ("config", "items", "accuracy", "cost/request", "P50", "P95", "failures"):
        t.add_column(col, justify="left" if col in ("config", "failures") else "right")
    for r in table_rows(records, configs):
        fails = ", ".join(f"{k} {v}" for k, v in r["failures"].items()) or "—"
        t.add_row(
            r["config"],
            str(r["n"]),
            _fmt(r["accuracy"], "pct"),
            _fmt(r["cost_per_request"], "usd"),
            _fmt(r["p50_latency_s"], "s"),
            _fmt(r["p95_latency_s"], "s"),
            fails,
        )
    _console().print(t)


@app.command()
def run(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Parent folder of run directories.")
    ] = Path("results"),
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Name the run (re-using one resumes it).")
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
) -> None:
    """Run SUITE: every item through the baseline and each scaling config."""
    from tts_bench.runner import Runner
    from tts_bench.suite import load

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
    )
    progress = None
    if not quiet and sys.stderr.isatty():
        progress = _progress_bar()
    result = runner.run() if progress is None else progress.run(runner)
    configs = [c.name for c in s.configs]
    print_table(result.records, configs, f"{s.name} — {result.status}")
    typer.echo(f"run directory: {result.run_dir}")
    typer.echo(f"spent: ${result.spent_usd:.4f} (live calls; cache hits are free)")
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    if result.status == "failed":
        raise UserError(f"{result.run_dir}: every request failed; see the warning above")
    if not no_report and result.records:
        _write_reports(result.run_dir)
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

        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("spent ${task.fields[spent]:.4f}"),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("running", total=None, errors=0, spent=0.0)

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
    suites_dir: Annotated[Path, typer.Option("--suites-dir")] = Path("suites"),
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
        for p in found:
            try:
                desc = (read_yaml(p) or {}).get("description", "")
            except Exception:  # a broken suite is still listed; `run` names its problem
                desc = "(unreadable)"
            typer.echo(f"{str(p):28} {str(desc).strip().splitlines()[0] if desc else ''}")
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


@sim_app.command("serve")
def sim_serve(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="Real seconds per simulated second.")
    ] = 1.0,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="KIND=RATE, e.g. 429=0.1 (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator and fault-injection seed.")] = 0,
    slow_s: Annotated[
        float,
        typer.Option("--slow-s", help="Real seconds a `slow` fault stalls (not time-scaled)."),
    ] = 30.0,
    retry_after: Annotated[
        float, typer.Option("--retry-after", help="Retry-After seconds sent with a 429 fault.")
    ] = 1.0,
    profiles: Annotated[
        Path | None,
        typer.Option("--profiles", help="Suite YAML whose `sim_profiles:` to serve as well."),
    ] = None,
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
    extra = None
    if profiles is not None:
        from tts_bench.suite import load

        extra = load(profiles).sim_profiles or None
    run_server(
        host=host,
        port=port,
        time_scale=time_scale,
        fault_rates=rates,
        seed=seed,
        retry_after_s=retry_after,
        slow_s=slow_s,
        profiles=extra,
    )


@app.command()
def sample(
    input: Annotated[str, typer.Argument(help="JSONL/CSV/Parquet file or hf:owner/name.")],
    by: Annotated[str, typer.Option("--by", help="Comma-separated stratum columns.")] = "",
    size: Annotated[int, typer.Option("--size", help="Items to draw.")] = 200,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file (.jsonl/.csv/.parquet).")
    ] = Path("sample.jsonl"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    equal: Annotated[
        bool, typer.Option("--equal", help="Equal allocation instead of proportional.")
    ] = False,
    min_per_stratum: Annotated[int, typer.Option("--min-per-stratum")] = 0,
    dedup: Annotated[
        str | None, typer.Option("--dedup", help="Drop duplicate values of this text column.")
    ] = None,
    bin_: Annotated[
        list[str] | None, typer.Option("--bin", help="COL:K quantile bins (repeatable).")
    ] = None,
) -> None:
    """Draw a stratified evaluation set from operational logs."""
    from tts_bench.data import sample_file
    from tts_bench.llm.offline import setup_offline_env

    setup_offline_env(allow_hub=input.startswith("hf:"))
    bins: dict[str, int] = {}
    for b in bin_ or []:
        col, _, k = b.partition(":")
        if not k.isdigit() or int(k) < 2:
            raise UserError(f"--bin {b!r}: expected COL:K with K >= 2")
        bins[col] = int(k)
    report = sample_file(
        input,
        by=[c for c in by.split(",") if c],
        size=size,
        out=out,
        seed=seed,
        allocation="equal" if equal else "proportional",
        min_per_stratum=min_per_stratum,
        dedup=dedup,
        bins=bins or None,
    )
    from rich.table import Table

    t = Table(title=f"sample of {input}")
    for col in ("stratum", "population", "sampled", "share"):
        t.add_column(col)
    shown = report.table[:50]  # a long tail of strata is in the output file, not the terminal
    for row in shown:
        t.add_row(
            str(row["stratum"]),
            str(row["population"]),
            str(row["sampled"]),
            f"{100 * row['share']:.1f}%",
        )
    _console().print(t)
    if len(report.table) > len(shown):
        typer.echo(f"… and {len(report.table) - len(shown)} more strata")
    for w in report.warnings:
        typer.echo(f"warning: {w}", err=True)
    if dedup:
        typer.echo(f"dropped {report.dropped_duplicates} duplicate(s) of {dedup}")
    typer.echo(f"wrote {out}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    epsilon: Annotated[
        float | None, typer.Option(help="Points: saturation and routing tolerance.")
    ] = None,
    target_delta: Annotated[
        float | None,
        typer.Option("--target-delta", help="Points: effect size for the power analysis."),
    ] = None,
    resamples: Annotated[
        int | None, typer.Option(help="Bootstrap resamples (default 10,000).")
    ] = None,
    confidence: Annotated[float | None, typer.Option(help="CI level (default 0.95).")] = None,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed.")] = None,
    max_cost_per_request: Annotated[
        float | None, typer.Option("--max-cost-per-request", help="Routing budget (USD).")
    ] = None,
    max_p95_latency_s: Annotated[
        float | None, typer.Option("--max-p95-latency-s", help="Routing budget (seconds).")
    ] = None,
) -> None:
    """Write summary.json, report.html and summary.md for RUN_DIR (defaults: the suite's
    `analysis:` block)."""
    from tts_bench.store import read_manifest

    read_manifest(run_dir)
    for name, value, ok in (
        ("--epsilon", epsilon, epsilon is None or epsilon >= 0),
        ("--resamples", resamples, resamples is None or resamples > 0),
        ("--confidence", confidence, confidence is None or 0 < confidence < 1),
    ):
        if not ok:
            raise UserError(f"{name} {value}: out of range")
    from tts_bench.analysis import write_summary
    from tts_bench.report import write_report

    write_summary(
        run_dir,
        epsilon=epsilon,
        target_delta=target_delta,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        max_cost_per_request=max_cost_per_request,
        max_p95_latency_s=max_p95_latency_s,
    )
    typer.echo(f"summary: {run_dir / 'summary.json'}")
    typer.echo(f"report: {write_report(run_dir)}")
    typer.echo(f"markdown: {run_dir / 'summary.md'}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output HTML file.")] = Path(
        "compare.html"
    ),
) -> None:
    """Compare runs (e.g. last month's model vs the upgrade), paired by item."""
    from tts_bench.store import read_manifest

    if len(run_dirs) < 2:
        raise UserError("compare: give at least two run directories")
    for d in run_dirs:
        read_manifest(d)
    from tts_bench.report import write_compare

    path, warnings = write_compare(run_dirs, out)
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"comparison: {path}")


@app.command()
def gate(
    run_dir: Annotated[Path, typer.Argument(help="The candidate run directory.")],
    against: Annotated[
        Path | None, typer.Option("--against", help="Compare with this run (paired by item).")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Gate rules YAML (default: the suite's gates).")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print Markdown; append to $GITHUB_STEP_SUMMARY when set."),
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Gate a run that did not complete.")
    ] = False,
) -> None:
    """Gate a model upgrade: exit 0 when every rule passes, 1 when any fails."""
    import os

    from tts_bench import gate as gating
    from tts_bench.gate_rules import parse_rules
    from tts_bench.store import read_manifest

    manifest = read_manifest(run_dir)
    gates = (manifest.get("suite") or {}).get("gates") or []
    suite_rules = parse_rules(gates, f"{run_dir}/manifest.json: suite.gates")
    rule_list = gating.load_rules(suite_rules, rules)
    verdicts = gating.evaluate(
        run_dir, rules=rule_list, against=against, allow_partial=allow_partial
    )
    from rich.table import Table

    t = Table(title=f"gate: {run_dir}")
    for col in ("rule", "value", "CI", "bound", "on", "result"):
        t.add_column(col)
    for v in verdicts:
        r = gating.row(v)
        res = "[green]PASS[/green]" if v.passed else "[red]FAIL[/red]"
        t.add_row(
            r["rule"],
            r["value"],
            r["ci"],
            r["bound"],
            v.on,
            res + (f" {r['note']}" if r["note"] else ""),
        )
    _console().print(t)
    suite_name = (manifest.get("suite") or {}).get("name", "suite")
    if junit is not None:
        junit.write_text(gating.to_junit(verdicts, suite_name), encoding="utf-8")
    if markdown:
        md = gating.to_markdown(verdicts)
        typer.echo(md)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as fh:
                fh.write(md + "\n")
    raise typer.Exit(gating.exit_code(verdicts))


@app.command()
def plan(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    from_run: Annotated[
        Path | None, typer.Option("--from", help="Use token counts observed in this run.")
    ] = None,
) -> None:
    """Estimate calls, tokens, cost and wall time of SUITE before spending anything."""
    from tts_bench.llm.offline import setup_offline_env
    from tts_bench.suite import load

    s = load(suite)
    setup_offline_env(allow_hub=s.dataset.source.startswith("hf:"))
    from tts_bench.plan import plan_suite

    rep = plan_suite(s, from_run=from_run, where=str(suite))
    from rich.table import Table

    t = Table(title=f"plan: {suite}")
    for col in ("config", "calls", "input tok", "output tok", "reasoning tok", "cost", "wall"):
        t.add_column(col, justify="left" if col == "config" else "right")
    for c in rep.configs:
        t.add_row(
            c.config,
            f"{c.calls:,.0f}",
            f"{c.input_tokens:,.0f}",
            f"{c.output_tokens:,.0f}",
            f"{c.reasoning_tokens:,.0f}",
            _fmt(c.cost_usd, "usd"),
            f"{c.wall_s:,.0f}s",
        )
    _console().print(t)
    for c in rep.configs:
        typer.echo(f"{c.config}: price from {c.price_source}" + "".join(f"; {n}" for n in c.notes))
    total = "unknown" if rep.total_cost_usd is None else f"${rep.total_cost_usd:.4f}"
    typer.echo(f"total: {rep.total_calls:,.0f} calls, {total}, ~{rep.wall_s:,.0f}s wall time")
    if rep.tokenizer_note:
        typer.echo(rep.tokenizer_note)
    for w in rep.warnings:
        typer.echo(f"warning: {w}", err=True)


@app.command("import")
def import_(
    source: Annotated[
        Path, typer.Argument(help="Pool JSONL, lm-eval samples JSONL, or an Inspect log.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="pool-jsonl | lm-eval | inspect")
    ] = "pool-jsonl",
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Run directory to write or add a config to; with --run-id, its parent folder.",
        ),
    ] = Path("results/imported"),
    config: Annotated[
        str | None, typer.Option("--config", help="Config name for these samples.")
    ] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="Field mapping YAML.")] = None,
    scorer: Annotated[
        str | None,
        typer.Option("--scorer", help="numeric | exact | choice | set_f1 | regex:PATTERN"),
    ] = None,
    suite: Annotated[
        Path | None, typer.Option("--suite", help="Take the scorer from this suite.")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id")] = None,
    allow_mixed_pools: Annotated[
        bool,
        typer.Option(
            "--allow-mixed-pools", help="Accept pools of different sizes (with a warning)."
        ),
    ] = False,
) -> None:
    """Import sample pools made elsewhere as an ordinary run directory."""
    from tts_bench.importers import import_pools

    res = import_pools(
        source,
        fmt=fmt,
        out=out,
        config=config,
        spec=spec,
        scorer=scorer,
        suite=suite,
        run_id=run_id,
        allow_mixed=allow_mixed_pools,
    )
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(
        f"imported {res.n_items} items x {res.pool_size} samples as config "
        f"{res.config!r} into {res.run_dir}"
    )


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
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
