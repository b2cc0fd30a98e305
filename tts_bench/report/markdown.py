"""summary.md: the verdict, the summary table, per-stratum table and routing, in GitHub
Markdown (for pull-request comments and $GITHUB_STEP_SUMMARY). Model text never appears."""

from __future__ import annotations

from typing import Any

from tts_bench.report import fmt
from tts_bench.report.model import build
from tts_bench.report.verdict import config_sentence, facts, power_sentence, routing_sentence


def _cell(s: Any) -> str:
    """A table cell: pipes and newlines would break the row."""
    return str(s).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(head))) + "|",
    ]
    out += ["| " + " | ".join(_cell(x) for x in r) + " |" for r in rows]
    return out


def _val_ci(v: Any, lo: Any, hi: Any, f: Any) -> str:
    return f(v) + (f" ({f(lo)}..{f(hi)})" if fmt.ok(lo) and fmt.ok(hi) else "")


def _unit(own: Any) -> str:
    """The baseline's ratio to itself: 1× when its own figure was measured, else —."""
    return "1×" if fmt.ok(own) else fmt.NA


def footnote(metric: str) -> str:
    """What the table's marks and the not-obvious columns mean."""
    s = (
        "\\* significant after Holm correction; N “—”: not applicable (no sample pool); "
        "other “—”: not measured. Tokens and calls are means per request, every call counted "
        "(reasoning tokens and parallel samples included)."
    )
    if metric == "f1":
        s += (
            " f1 gives partial credit per element; recall is the share of target elements "
            "found, miss rate = 1 − recall; exact set is the share of scored requests whose "
            "set equals the target; “not exact” is the share of requests whose set differs "
            "(at least one element missed or extra), so it can be far above 1 − f1."
        )
    return s


def judged_lines(jv: dict[str, Any] | None, metric: str) -> list[str]:
    """The 'Judge vs human review' section (nothing without human labels): agreement and
    kappa, then per config the judge-alone and corrected figures."""
    if not jv:
        return []

    def kappa(v: Any, lo: Any, hi: Any) -> str:
        if not fmt.ok(v):
            return "—"
        ci = f" ({lo:.2f}..{hi:.2f})" if fmt.ok(lo) and fmt.ok(hi) else ""
        return f"{v:.2f}{ci}"

    conf = jv["confusion"]
    lines = [
        "### Judge vs human review",
        "",
        f"{jv['n_labels']} outputs of {jv['n_labelled_items']} items labelled by humans; "
        f"agreement {_val_ci(jv['agree'], jv['agree_lo'], jv['agree_hi'], fmt.pct)}, "
        f"Cohen's κ {kappa(jv['kappa'], jv['kappa_lo'], jv['kappa_hi'])}; the judge passed "
        f"{conf.get('judge_pass_human_fail', '—')} outputs the reviewers failed and failed "
        f"{conf.get('judge_fail_human_pass', '—')} they passed. Corrected figures are "
        "prediction-powered (judge on every item, rectified by the human labels); the "
        "verdict uses them.",
        "",
    ]
    rows = [
        [
            r["name"],
            _val_ci(r["judge_acc"], r["judge_acc_lo"], r["judge_acc_hi"], fmt.pct),
            _val_ci(r["acc"], r["acc_lo"], r["acc_hi"], fmt.pct),
            _val_ci(r["judge_delta"], r["judge_delta_lo"], r["judge_delta_hi"], fmt.pts),
            _val_ci(r["delta"], r["delta_lo"], r["delta_hi"], fmt.pts),
            str(r["n_labelled"] if r["n_labelled"] is not None else "—"),
            _val_ci(r["agree"], r["agree_lo"], r["agree_hi"], fmt.pct),
            kappa(r["kappa"], r["kappa_lo"], r["kappa_hi"]),
        ]
        for r in jv["rows"]
    ]
    head = [
        "config",
        f"{metric}, judge alone",
        f"{metric}, corrected",
        "Δ pts, judge alone",
        "Δ pts, corrected",
        "labelled",
        "agreement",
        "κ",
    ]
    return [*lines, *_table(head, rows), ""]


def render_markdown(summary: dict[str, Any], manifest: dict[str, Any] | None = None) -> str:
    """summary.md content from a summary.json dict (manifest optional: adds run facts)."""
    man = manifest or {}
    vm = build(summary, man)
    f = facts(man, summary)
    metric = vm["metric"]
    lines = [f"## tts-bench: {f['suite'] or 'run'} ({f['run_id'] or '—'})", ""]
    if f["partial"]:
        lines += [
            f"> **Partial run** (status `{f['status']}`): figures cover the finished pairs only."
            + (f" Merged without: {f['shard_gaps']}." if f["shard_gaps"] else ""),
            "",
        ]
    lines += [f"**Verdict** (vs baseline `{vm['baseline']}`, 95% CI, paired by item):", ""]
    base = next((c for c in vm["configs"] if c["is_baseline"]), None)
    if f["unsolved"]:  # the simulated models could not read the questions: no verdict
        lines += [f"- {line}" for line in f["unsolved"]]
        lines += ["", "No verdict: the figures below say nothing about scaling."]
    else:
        lines += [f"- {config_sentence(c, metric, base)}" for c in vm["configs"]]
    rs = routing_sentence(vm["routing"])
    if rs:
        # bold (a recommendation) only when the paired CI shows a gain over the best single
        demonstrated = vm["routing"]["gain"] == "demonstrated"
        lines += ["", f"**{rs}**" if demonstrated else rs]
    lines += [""]
    f1 = metric == "f1"
    # one unit for the whole latency column (ms or s), as in the HTML report
    lat_unit = fmt.time_unit(q for c in vm["configs"] for q in (c["p50"], c["p95"], c["p99"]))
    rows = []
    for c in vm["configs"]:
        delta = (
            "baseline"
            if c["is_baseline"]
            else (
                _val_ci(c["delta"], c["delta_lo"], c["delta_hi"], fmt.pts)
                + ("*" if c["significant"] else "")
            )
        )
        rows.append(
            [
                c["name"],
                c["n_label"] or "—",
                _val_ci(c["acc"], c["acc_lo"], c["acc_hi"], fmt.pct),
                *(
                    [fmt.pct(c["recall"]), fmt.pct(c["miss_rate"]), fmt.pct(c["exact_acc"])]
                    if f1
                    else []
                ),
                delta,
                fmt.usd(c["cost_mean"]) + c.get("pool_mark", ""),
                _unit(c["cost_mean"]) if c["is_baseline"] else fmt.ratio(c["cost_ratio"]),
                fmt.tokens(c["tok_in"], c["tok_out"], c["tok_reasoning"], c["calls"]),
                fmt.latencies(c["p50"], c["p95"], c["p99"], lat_unit),
                _unit(c["p95"]) if c["is_baseline"] else fmt.ratio(c["p95_ratio"]),
                fmt.pct(c["model_fail_share"]),
                fmt.pct(c["infra_share"]),
            ]
        )
    lines += _table(
        [
            "config",
            "N",
            f"{metric} (95% CI)",
            *(["recall", "miss rate", "exact set"] if f1 else []),
            "Δ pts (95% CI)",
            "cost/req",
            "cost ×",
            "tokens in / out / reasoning · calls",
            "P50 / P95 / P99",
            "P95 ×",
            "not exact" if f1 else "model fail",
            "infra fail",
        ],
        rows,
    )
    lines += ["", footnote(metric), ""]
    lines += judged_lines(vm["judged"], metric)
    if vm["strata"]:
        names = [c["name"] for c in vm["configs"]]
        srows = []
        for g in vm["strata"]:
            by = {r["name"]: r for r in g["rows"]}
            cells = []
            for n in names:
                r = by.get(n)
                if r is None:
                    cells.append("—")
                elif n == vm["baseline"] or not fmt.ok(r["delta"]):
                    cells.append(fmt.pct(r["acc"]))
                else:
                    cells.append(
                        f"{fmt.pct(r['acc'])} ({fmt.pts(r['delta'])}{'*' if r['significant'] else ''})"
                    )
            srows.append(
                [
                    f"{g['column']}={g['value']}",
                    g["n_items"] if g["n_items"] is not None else "—",
                    *cells,
                ]
            )
        m = vm.get("strata_holm_m")
        star = f"over all {m} config × stratum cells" if m else "within each stratum value"
        head = f"**By stratum** ({metric}; Δ pts vs baseline; * significant at α 0.05 after Holm"
        lines += [f"{head} correction {star}):", ""]
        lines += _table(["stratum", "items", *names], srows) + [""]
    r = vm["routing"]
    if r:
        lines += [
            f"**Routing** by `{r['column']}` (cheapest within {r['epsilon']} pts of the best):",
            "",
        ]
        unit = fmt.time_unit([*(x["p95"] for x in r["rows"]), r["p95"], r["best_p95"]])
        rrows = [
            [
                x["value"],
                x["label"],
                fmt.pct(x["acc"]),
                fmt.usd(x["cost"]),
                fmt.secs(x["p95"], unit),
            ]
            for x in r["rows"]
        ]
        rrows.append(
            [
                "**routed policy**",
                "",
                fmt.pct(r["acc"]),
                fmt.usd(r["cost"]),
                fmt.secs(r["p95"], unit),
            ]
        )
        rrows.append(
            [
                f"best single: {r['best_config'] or '—'}",
                "",
                fmt.pct(r["best_acc"]),
                fmt.usd(r["best_cost"]),
                fmt.secs(r["best_p95"], unit),
            ]
        )
        lines += _table(
            [r["column"] or "stratum", "route to", metric, "cost/req", "P95"], rrows
        ) + [""]
    ps = power_sentence(vm)
    tail = [
        f"status `{f['status']}`",
        f"{f['n_items'] if f['n_items'] is not None else '—'} items",
        f"spend {f['spend_text']}",
    ]
    if f.get("eval_cost_text"):
        tail.append(f"evaluation cost {f['eval_cost_text']}")
    if f["fingerprint"]:
        tail.append(f"dataset `{f['fingerprint']}`")
    lines += [("_" + " · ".join(tail) + "_")]
    if ps:
        lines += ["", ps]
    return "\n".join(lines) + "\n"
