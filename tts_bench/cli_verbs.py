"""The verbs around a run: `sim serve`, `sample` and `plan` before one; `report`, `compare`
and `gate` after one; `import` of pools made elsewhere. Each only parses and prints; the work
is in the Python API. Registered on the app of `tts_bench.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tts_bench.cli import _console, _fmt, app, sim_app
from tts_bench.errors import UserError


@sim_app.command("serve")
def sim_serve(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=0, max=65535)] = 8765,
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
    rpm: Annotated[
        int | None,
        typer.Option("--rpm", help="Requests per minute per model; more get 429.", min=1),
    ] = None,
    tpm: Annotated[
        int | None,
        typer.Option("--tpm", help="Tokens per minute per model; more get 429.", min=1),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Accept only the key in this environment variable (401 otherwise).",
        ),
    ] = None,
    batch_delay: Annotated[
        float,
        typer.Option(
            "--batch-delay",
            min=0,
            help="Seconds a submitted batch waits for its answers (the batch APIs).",
        ),
    ] = 1.0,
) -> None:
    """Serve the simulator as an OpenAI-compatible API (/v1/chat/completions, /v1/models),
    Anthropic's Messages API (/v1/messages) and both providers' batch APIs (/v1/files +
    /v1/batches, /v1/messages/batches)."""
    import os

    from tts_bench.sim.server import run_server

    keys = None
    if api_key_env is not None:
        key = os.environ.get(api_key_env, "").strip()
        if not key:
            raise UserError(f"--api-key-env {api_key_env}: that environment variable is not set")
        keys = (key,)

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
        rpm=rpm,
        tpm=tpm,
        api_keys=keys,
        batch_delay_s=batch_delay,
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
    from tts_bench.fsutil import locked
    from tts_bench.report import write_all

    # One writer per run directory: a run still writing it (or another report) -> exit 2.
    # Records and calls are read once, under the lock; a damaged one exits 2 before any
    # file is written, not halfway through.
    with locked(run_dir):
        page = write_all(
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
    typer.echo(f"report: {page}")
    typer.echo(f"markdown: {run_dir / 'summary.md'}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Two or more run directories.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output HTML file.")] = Path(
        "compare.html"
    ),
) -> None:
    """Compare runs (e.g. last month's model vs the upgrade), paired by item."""
    from rich.console import Console

    from tts_bench.report.compare import terminal_table, write_compare

    rows: list[dict] = []
    path, warnings = write_compare(run_dirs, out, rows_out=rows)
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that rows do not wrap
        console = Console(width=max(console.width, 140))
    console.print(terminal_table(rows))
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
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="Results folder: drift rules vs the last accepted run of the suite there.",
            metavar="RESULTS_DIR",
        ),
    ] = None,
) -> None:
    """Gate a model upgrade: exit 0 when every rule passes, 1 when any fails."""
    import os

    from tts_bench import gate as gating
    from tts_bench.gate_rules import parse_rules
    from tts_bench.store import read_manifest

    manifest = read_manifest(run_dir)
    gates = (manifest.get("suite") or {}).get("gates") or []
    suite_rules = parse_rules(gates, f"{run_dir}/manifest.json: suite.gates")
    # --history alone is a gate of its own: no suite rules needed then
    alone = history is not None and rules is None and not suite_rules
    rule_list = [] if alone else gating.load_rules(suite_rules, rules)
    verdicts = gating.evaluate(
        run_dir, rules=rule_list, against=against, allow_partial=allow_partial, history=history
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
        from tts_bench.fsutil import atomic_write_text

        atomic_write_text(junit, gating.to_junit(verdicts, suite_name))
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
    cols = ("config", "calls", "input tok", "output tok", "reasoning tok", "cost", "wall")
    for col in (*cols, "n-pooled", "batch"):
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
            "—" if c.pooled_requests is None else _fmt(c.pooled_cost_usd, "usd"),
            "—" if c.batch_wall_s is None else _fmt(c.batch_cost_usd, "usd"),
        )
    _console().print(t)
    for c in rep.configs:
        typer.echo(f"{c.config}: price from {c.price_source}" + "".join(f"; {n}" for n in c.notes))
    total = "unknown" if rep.total_cost_usd is None else f"${rep.total_cost_usd:.4f}"
    typer.echo(f"total: {rep.total_calls:,.0f} calls, {total}, ~{rep.wall_s:,.0f}s wall time")
    if rep.total_eval_cost_usd:
        judged = sum(c.eval_calls for c in rep.configs)
        typer.echo(
            f"evaluation (judge): {judged:,.0f} calls, ${rep.total_eval_cost_usd:.4f}, "
            "not in the total above"
        )
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
    normalize: Annotated[
        str | None,
        typer.Option(
            "--normalize",
            help="Scorer normalisation steps in order, e.g. nfkd,letters_only,casefold.",
        ),
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
        normalize=normalize,
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


@app.command()
def check(suite: Annotated[Path, typer.Argument(help="Suite YAML file.")]) -> None:
    """One cheap call per distinct model of SUITE: key, model, parameters and price."""
    from tts_bench.check import check_suite
    from tts_bench.suite import load

    rep = check_suite(load(suite), where=str(suite))
    for line in rep.lines:
        typer.echo(line.text)
    if rep.exit_code:
        typer.echo(rep.summary, err=True)
    else:
        typer.echo(rep.summary)
    raise typer.Exit(rep.exit_code)
