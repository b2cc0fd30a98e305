"""The verbs for living with many runs: `runs` (list them), `show` (one run or one item),
`export` (CSV or Parquet) and `history` (per config over time). Each only parses and prints;
the work is in `tts_bench.runs`, `show`, `export` and `history`. Registered on the app of
`tts_bench.cli`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tts_bench.cli import _console, _fmt, app, print_table


def _esc(text: Any) -> str:
    """User and model text for a rich table: brackets are not markup."""
    from rich.markup import escape

    return escape("—" if text is None else str(text))


def _short(text: Any, width: int = 60) -> str:
    s = " ".join(str(text).split()) if text is not None else "—"
    return s if len(s) <= width else s[: width - 1] + "…"


@app.command("runs")
def runs_(
    results_dir: Annotated[
        Path, typer.Argument(help="Folder of run directories.", metavar="RESULTS_DIR")
    ] = Path("results"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON, one object per run.")
    ] = False,
) -> None:
    """List past runs: id, suite, status, start, items, configs, baseline accuracy, spend
    (newest first; damaged directories with their problem)."""
    from tts_bench.runs import list_runs

    rows = list_runs(results_dir)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        typer.echo(f"no runs in {results_dir}")
        return
    from rich.table import Table

    t = Table(title=f"runs in {results_dir}")
    for col in ("id", "suite", "status", "started", "items", "configs", "baseline acc.", "spend"):
        t.add_column(col, justify="right" if col in ("items", "baseline acc.", "spend") else "left")
    for r in rows:
        if r.problem:
            t.add_row(_esc(r.id), "—", "[red]unreadable[/red]", _esc(r.problem), "", "", "", "")
            continue
        status = _esc(r.status)
        if r.status not in ("complete", "imported"):
            status = f"[yellow]{status}[/yellow]"
        t.add_row(
            _esc(r.id),
            _esc(r.suite),
            status,
            _esc((r.started or "—").replace("T", " ").removesuffix("+00:00")),
            _esc(r.items),
            _esc(", ".join(r.configs)),
            _fmt(r.baseline_accuracy, "pct"),
            _fmt(r.spent_usd, "usd"),
        )
    _console().print(t)


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    item: Annotated[
        str | None, typer.Argument(help="An item id: that item across configs.", metavar="ITEM")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="With ITEM: every config's whole output too.")
    ] = False,
) -> None:
    """Show a run's table, or one item across configs (input, target, answers, labels,
    cost, latency)."""
    if item is None:
        _show_run(run_dir)
    else:
        _show_item(run_dir, item, full=full)


def _show_run(run_dir: Path) -> None:
    from tts_bench.show import run_configs, run_facts
    from tts_bench.store import load_records, read_manifest

    facts = run_facts(run_dir)
    records = load_records(run_dir)
    configs = run_configs(read_manifest(run_dir), records)
    started = (facts["started"] or "—").replace("T", " ").removesuffix("+00:00")
    spend = _fmt(facts["spent_usd"], "usd")
    sim = " (simulated)" if facts["simulated"] else ""
    head = f"{facts['suite']} · {facts['status']}{sim} · started {started} · "
    head += f"{facts['items']} items · baseline {facts['baseline']} · spent {spend}"
    console = _console()
    console.print(_esc(head))
    if facts["error"]:
        console.print(f"[red]error:[/red] {_esc(facts['error'])}")
    for w in facts["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {_esc(w)}")
    print_table(records, configs, f"run {facts['id']}")


def _show_item(run_dir: Path, item: str, *, full: bool) -> None:
    from rich.table import Table

    from tts_bench.show import show_item

    view = show_item(run_dir, item)
    console = _console()
    strata = ", ".join(f"{k}={v}" for k, v in view.strata.items()) or "—"
    console.print(
        f"[bold]{_esc(view.item_id)}[/bold] in {_esc(view.run_id)} · strata {_esc(strata)}"
    )
    if view.input is not None:
        console.print("[bold]input[/bold]")
        console.print(_esc(view.input))
    else:
        console.print(f"[bold]input[/bold] — ({_esc(view.input_note)})")
    console.print(f"[bold]target[/bold] {_esc(view.target)}")
    t = Table(title=f"{view.item_id} across configs")
    for col in ("config", "model", "answer", "label", "cost", "latency", "calls", "pool"):
        t.add_column(col, justify="right" if col in ("cost", "latency", "calls") else "left")
    for cell in view.cells:
        if cell is None:
            continue
        if cell["correct"] is True:
            label = "[green]correct[/green]"
        elif cell["correct"] is False:
            label = f"[red]{_esc(cell['failure'] or 'wrong')}[/red]"
        else:
            label = f"[yellow]unscored: {_esc(cell['status'])}[/yellow]"
        pool = "—" if cell["samples"] is None else _short(", ".join(map(str, cell["samples"])), 40)
        t.add_row(
            _esc(cell["config"]),
            _esc(cell["model"]),
            _esc(_short(cell["answer"], 40)),
            label,
            _fmt(cell["cost_usd"], "usd"),
            _fmt(cell["latency_s"], "s"),
            _esc(cell["n_calls"]),
            _esc(pool),
        )
    console.print(t)
    if full:
        for cell in view.cells:
            if cell is not None:
                console.rule(_esc(cell["config"]))
                console.print(_esc(cell["output"]))


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", metavar="RUN_DIR")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="csv or parquet.", metavar="csv|parquet")
    ] = "csv",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: RUN_DIR/export).", metavar="DIR"),
    ] = None,
) -> None:
    """Export a run's records (strata and info flattened to columns), pool samples and calls
    as CSV or Parquet."""
    from tts_bench.export import export_run

    for path in export_run(run_dir, fmt, out):
        typer.echo(f"wrote {path}")


@app.command()
def history(
    results_dir: Annotated[
        Path, typer.Argument(help="Folder of run directories.", metavar="RESULTS_DIR")
    ],
    suite: Annotated[str, typer.Option("--suite", help="The suite's name.", metavar="NAME")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output HTML file.", metavar="FILE")
    ] = Path("history.html"),
) -> None:
    """A suite's runs over time, per config: accuracy (CI), cost per request, P50/P95/P99,
    format-violation and refusal rates, models, and drift alerts between runs."""
    from rich.table import Table

    from tts_bench.history import collect
    from tts_bench.history_html import write_history

    h = collect(results_dir, suite)
    path = write_history(h, out)
    for run_id, why in h.skipped:
        typer.echo(f"warning: left out {run_id}: {why}", err=True)
    t = Table(title=f"history of {suite}: latest run per config")
    for col in ("config", "runs", "model", "accuracy", "cost/request", "P95", "alerts (all runs)"):
        t.add_column(
            col, justify="right" if col in ("runs", "accuracy", "cost/request", "P95") else "left"
        )
    for name, points in h.configs.items():
        last = points[-1]
        alerts = [f"{p.run_id}: {d.metric}" for p in points for d in p.alerts]
        t.add_row(
            _esc(name),
            str(len(points)),
            _esc(last.model),
            _fmt(last.values["accuracy"][0], "pct"),
            _fmt(last.values["cost_per_request"][0], "usd"),
            _fmt(last.values["p95_latency_s"][0], "s"),
            _esc("; ".join(alerts)) if alerts else "—",
        )
    _console().print(t)
    typer.echo(f"history: {path}")
