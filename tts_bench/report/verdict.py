"""The sentences a reader acts on: one per config, the routing policy, the power line, and the
run facts block. Shared by report.html, summary.md and compare.html."""

from __future__ import annotations

from typing import Any

from tts_bench import sim_coverage
from tts_bench.analysis.evalcost import eval_cost_text
from tts_bench.report import fmt
from tts_bench.report.model import PARTIAL, get


def config_sentence(
    c: dict[str, Any], metric: str = "accuracy", baseline: dict[str, Any] | None = None
) -> str:
    """'sc: +7.2 pts (95% CI +4.1..+10.3) at 4.8× cost, P95 2.1×; saturates at N=4'.

    'not significant after Holm correction (p=…)' follows the CI when the Holm-adjusted test
    says so. The curve over N reads 'saturates at N=k' only when the analysis confirmed it
    (`saturated`); 'levels off near N=k (… not confirmed)' when the remaining gain fell within
    ε but its CI does not rule out more; 'still rising at N=K' at the largest N measured.
    For F1 suites (set answers) the miss rate follows, against the baseline's `baseline`.
    A config with human labels gets `corrected_sentence` instead."""
    if c.get("corrected") and fmt.ok(c["corrected"].get("acc")):
        return corrected_sentence(c, metric)
    name = c["name"]
    miss = ""
    if metric == "f1" and fmt.ok(c.get("miss_rate")):
        b_miss = (baseline or {}).get("miss_rate")
        miss = (
            f", miss rate {fmt.pct(c['miss_rate'])}"
            if c["is_baseline"] or not fmt.ok(b_miss)
            else f", miss rate {fmt.pct(b_miss)} → {fmt.pct(c['miss_rate'])}"
        )
    if c["is_baseline"]:
        return (
            f"{name} (baseline): {fmt.pct(c['acc'])} {metric} "
            f"(95% CI {fmt.ci(c['acc_lo'], c['acc_hi'])}), {fmt.usd(c['cost_mean'])}/request, "
            f"P95 {fmt.secs(c['p95'])}{miss}"
        ) + saturation_clause(c.get("saturation"))  # a lone pooled config gets its curve too
    if not fmt.ok(c["delta"]):
        head = f"{name}: {metric} delta not measured"
    else:
        head = f"{name}: {fmt.pts(c['delta'])} pts (95% CI {fmt.ci(c['delta_lo'], c['delta_hi'], fmt.pts)}"
        if c["significant"] is False:
            # the CI is the unadjusted interval; significance is the Holm-adjusted test
            head += ", not significant after Holm correction"
            if fmt.ok(c.get("p_holm")):
                p = fmt.pvalue(c["p_holm"])
                head += f" (p{p})" if p.startswith("<") else f" (p={p})"
        head += ")"
    cost = f"{fmt.ratio(c['cost_ratio'])} cost" if fmt.ok(c["cost_ratio"]) else "cost not measured"
    return (
        f"{head} at {cost}, P95 {fmt.ratio(c['p95_ratio'])}{miss}"
        + saturation_clause(c.get("saturation"))
        + pool_clause(c.get("pool_cost"))
    )


def pool_clause(p: dict[str, Any] | None) -> str:
    """'; pools drawn as one request of n: $0.170, one request per sample would cost $0.216'
    (analysis/poolcost.py: from the recorded usage and the run's prices; "unknown" when a
    price or cost is unknown). Empty for a config without pools."""
    if not p:
        return ""
    how = {"n": "one request of n", "separate": "one request per sample"}
    mode, other = p.get("pool_request"), p.get("other_mode")
    if mode not in how:
        return "; pools drawn both ways (resumed with another pool_request)"
    said = f"; pools drawn as {how[mode]}: {_money(p.get('cost_usd'))}"
    if other not in how:
        return said + " (its API has no n)"
    return said + f", {how[other]} would cost {_money(p.get('other_cost_usd'))}"


def _money(x: Any) -> str:
    return fmt.usd(x) if fmt.ok(x) else "unknown"


def corrected_sentence(c: dict[str, Any], metric: str = "accuracy") -> str:
    """The verdict of a config whose outputs humans reviewed: the corrected (prediction-
    powered) figures, said to be corrected and by how many labels, with the judge's own
    figure beside them: 'verbose: −0.8 pts corrected by 120 human-labelled items (95% CI
    −7.9..+6.3; the judge alone: +9.6 pts, 95% CI +5.6..+13.5) at 1.00× cost, P95 1.00×'."""
    j = c["corrected"]
    name = c["name"]
    if c["is_baseline"]:
        head = (
            f"{name} (baseline): {fmt.pct(j['acc'])} {metric} corrected by "
            f"{j['n_labelled']} human-labelled items (95% CI {fmt.ci(j['acc_lo'], j['acc_hi'])}; "
            f"the judge alone: {fmt.pct(j['judge_acc'])})"
        )
        return head + f", {fmt.usd(c['cost_mean'])}/request, P95 {fmt.secs(c['p95'])}"
    if not fmt.ok(j.get("delta")):
        head = f"{name}: corrected {metric} delta not measured (too few labelled items)"
    else:
        head = (
            f"{name}: {fmt.pts(j['delta'])} pts corrected by {j['n_delta_labelled']} "
            f"human-labelled items (95% CI {fmt.ci(j['delta_lo'], j['delta_hi'], fmt.pts)}; "
            f"the judge alone: {fmt.pts(j['judge_delta'])} pts, 95% CI "
            f"{fmt.ci(j['judge_delta_lo'], j['judge_delta_hi'], fmt.pts)})"
        )
    cost = f"{fmt.ratio(c['cost_ratio'])} cost" if fmt.ok(c["cost_ratio"]) else "cost not measured"
    return f"{head} at {cost}, P95 {fmt.ratio(c['p95_ratio'])}"


def saturation_clause(sat: dict[str, Any] | None) -> str:
    """What the curve over N supports, with the interval behind it; '' without a curve:

    - '; levels off near N=6 (+0.2 pts left up to N=9, 95% CI −0.3..+0.7, within ε 1.0)'
      only when the gain left's CI upper bound is within ε;
    - '; still rising (+1.8 pts from N=3 to N=9, 95% CI +0.6..+3.0)' when the CI is above 0;
    - '; may still rise (+0.6 pts from N=3 to N=9, 95% CI −0.4..+1.6)' otherwise;
    then ' (falls by 1.2 pts along N, 95% CI +0.4..+2.0)' only when a fall's CI excludes 0.
    The gain left is measured on items that played no part in picking N (cross-fitted
    halves), so it does not read low."""
    if not sat or not isinstance(sat.get("point"), int) or not sat["point"]:
        return ""
    verdict = sat.get("verdict")
    if verdict is None:  # a summary written before verdicts carried their intervals
        return _legacy_saturation_clause(sat)
    top, eps = sat.get("max_n"), sat.get("epsilon")
    gain, a = sat.get("gain"), sat.get("gain_from")
    ci = f"95% CI {fmt.ci(sat.get('gain_lo'), sat.get('gain_hi'), fmt.pts)}"
    if verdict == "levels_off":
        within = f", within ε {eps:.1f}" if fmt.ok(eps) else ""
        s = f"; levels off near N={sat['point']} ({fmt.pts(gain)} pts left up to N={top}, {ci}{within})"
    elif verdict in ("still_rising", "may_still_rise", "not_rising") and isinstance(a, int):
        head = {
            "still_rising": "still rising",
            "may_still_rise": "may still rise",
            "not_rising": "no rise shown",
        }[verdict]
        s = f"; {head} ({fmt.pts(gain)} pts from N={a} to N={top}, {ci})"
    else:
        s = f"; curve over N=1..{top}: too few items for a verdict"
    fall = sat.get("fall") or {}
    lo, hi = (fall.get("ci") or [None, None])[:2]
    if sat.get("falls") and fmt.ok(fall.get("value")):
        s += f" (falls by {fall['value']:.1f} pts along N, 95% CI {fmt.ci(lo, hi, fmt.pts)})"
    return s


def _legacy_saturation_clause(sat: dict[str, Any]) -> str:
    """'; saturates at N=6', '; levels off near N=6 (… not confirmed)' or '; still rising at
    N=9', for summaries without a `verdict`."""
    point, top = sat["point"], sat.get("max_n")
    if sat.get("saturated"):
        return f"; saturates at N={point}"
    if isinstance(top, int) and point >= top:
        return f"; still rising at N={top}"
    left = f"{fmt.pts(sat['gain'])} pts left" if fmt.ok(sat.get("gain")) else "gain left unknown"
    hi, eps = sat.get("gain_hi"), sat.get("epsilon")
    if fmt.ok(hi) and fmt.ok(eps):
        bound = f"CI up to {fmt.pts(hi)} {'>' if hi > eps else '≤'} ε {eps:.1f}"
    else:
        bound = "CI not measured"
    return f"; levels off near N={point} ({left}, {bound}: not confirmed)"


def routing_sentence(r: dict[str, Any] | None) -> str | None:
    """'Route difficulty: easy → single, hard → sc@9: 81.2% (95% CI 77.0%..85.0%) at
    $0.0011/request, P95 2.10 s (best single config sc@9: 82.0% at $0.0020); routed − best
    single: −0.8 pts (95% CI −2.1..+0.5; out of sample, 5-fold cross-fitted): no demonstrated
    gain over sc@9.'

    Figures are out of sample when `r["folds"]` is set (cross-fitted); a summary without it
    was scored on the items that chose the routes, and the sentence says so. Whether to
    present it as a recommendation (bold) is `r["gain"] == "demonstrated"`: the paired CI of
    routed − best single lies above 0. No strata (no view): no sentence."""
    if not r or not r["rows"]:
        return None
    routes = ", ".join(f"{x['value']} → {x['label']}" for x in r["rows"])
    col = f" {r['column']}" if r.get("column") else ""
    s = f"Route{col}: {routes}: {fmt.pct(r['acc'])}"
    if fmt.ok(r.get("acc_lo")) and fmt.ok(r.get("acc_hi")):
        s += f" (95% CI {fmt.ci(r['acc_lo'], r['acc_hi'])})"
    s += f" at {fmt.usd(r['cost'])}/request"
    if fmt.ok(r.get("p95")):
        s += f", P95 {fmt.secs(r['p95'])}"
    best = r.get("best_config")
    if best:
        s += f" (best single config {best}: {fmt.pct(r['best_acc'])} at {fmt.usd(r['best_cost'])})"
    folds = r.get("folds")
    how = (
        f"out of sample, {folds}-fold cross-fitted"
        if fmt.ok(folds)
        else "chosen and scored on the same items"
    )
    if fmt.ok(r.get("delta")):
        s += (
            f"; routed − best single: {fmt.pts(r['delta'])} pts (95% CI "
            f"{fmt.ci(r.get('delta_lo'), r.get('delta_hi'), fmt.pts)}; {how})"
        )
    if best and r.get("gain") == "worse":
        s += f": worse than {best}"
    elif best and r.get("gain") != "demonstrated":
        s += f": no demonstrated gain over {best}"
    return s + "."


def power_sentence(vm: dict[str, Any]) -> str | None:
    """The minimum detectable effect at the current item count (first config with a power
    block), and the items needed for the target delta when one is set. For 0/1 scores both
    come from the exact power of the exact McNemar test the report uses, at the observed
    share of items on which the two configs differ; for F1 from a normal approximation."""
    for c in vm["configs"]:
        p = c.get("power")
        if not p or not fmt.ok(p.get("mde")):
            continue
        power = p.get("power") if fmt.ok(p.get("power")) else 0.8
        alpha = p.get("alpha") if fmt.ok(p.get("alpha")) else 0.05
        n = p.get("n") if fmt.ok(p.get("n")) else fmt.NA
        psi = p.get("discordance")
        if p.get("method") == "exact_mcnemar":
            how = "the exact McNemar test detects"
            basis = f", whose answers differ on {psi:.0%} of items" if fmt.ok(psi) else ""
        else:
            how, basis = "detectable", ""
            if p.get("method") == "normal":
                basis = "; normal approximation"
        s = (
            f"With {n} paired items, the smallest accuracy delta {how} with "
            f"{power:.0%} power at α {alpha} is about "
            f"{p['mde']:.1f} pts (from {c['name']} vs baseline{basis})"
        )
        if fmt.ok(p.get("target_delta")) and fmt.ok(p.get("n_for_target")):
            s += f"; detecting {p['target_delta']:.1f} pts needs about {p['n_for_target']} items"
        return s + "."
    for c in vm["configs"]:  # nothing to size from: say why rather than print a 0
        note = (c.get("power") or {}).get("note")
        if note:
            return f"Power: {note}."
    return None


def facts(manifest: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """Run facts for the header block: suite, models, fingerprint, counts, status, spend;
    `unsolved`: a sentence per simulated model that did not recognise most of the suite's
    prompts (the verdict sentences mean nothing then: readers show these instead)."""
    meta = summary.get("meta") or {}
    suite = manifest.get("suite") or {}
    status = manifest.get("status") or meta.get("status") or "unknown"
    models = sorted({c.get("model") for c in manifest.get("configs") or [] if c.get("model")})
    strata = meta.get("item_counts") or manifest.get("strata_counts") or {}
    per_stratum = "; ".join(
        f"{col}: " + ", ".join(f"{k} {v}" for k, v in vals.items()) for col, vals in strata.items()
    )
    simulated = bool(manifest.get("simulated") or meta.get("simulated"))
    spend, spend_text = _spend(manifest, meta, status, simulated)
    unsolved = sim_coverage.unsolved(manifest)
    versions = [
        ("tts-bench", manifest.get("tool_version") or meta.get("tool_version")),
        ("litellm", manifest.get("litellm_version")),
        ("python", manifest.get("python_version")),
    ]
    return {
        "run_id": manifest.get("run_id") or meta.get("run_id"),
        "suite": suite.get("name") or meta.get("suite"),
        "description": suite.get("description"),
        "status": status,
        "partial": status in PARTIAL,
        "shard_gaps": shard_gaps(manifest),
        "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"),
        "models": ", ".join(models) or None,
        "fingerprint": manifest.get("dataset_fingerprint") or meta.get("dataset_fingerprint"),
        "n_items": manifest.get("item_count") or meta.get("item_count"),
        "items_analysed": meta.get("n_items"),
        "records": meta.get("n_records"),
        "missing_pairs": meta.get("missing_pairs"),
        "per_stratum": per_stratum or None,
        "seed": manifest.get("seed"),
        "versions": ", ".join(f"{k} {v}" for k, v in versions if v) or None,
        "spend": spend,
        "spend_text": spend_text,
        "eval_cost_text": eval_cost_text(summary),  # the judge's, apart from serving cost
        "unknown_cost": meta.get("records_unknown_cost"),
        "simulated": simulated,
        "baseline": meta.get("baseline") or manifest.get("baseline") or suite.get("baseline"),
        "resamples": meta.get("resamples"),
        # simulated models that could not solve the suite's questions: said before any note,
        # and a reader shows it in place of the verdict sentences (`unsolved`)
        "unsolved": unsolved,
        "notes": unsolved + [n for n in get(meta, "notes") or [] if isinstance(n, str)],
    }


def shard_gaps(manifest: dict[str, Any]) -> str | None:
    """'shard 2/3 missing; shard 3/3 incomplete' for a merge of some shards (`merge
    --allow-partial`), else None."""
    partial, merged = manifest.get("partial"), manifest.get("merged")
    if not isinstance(partial, dict) or not isinstance(merged, dict):
        return None
    n = merged.get("count")
    bits = [f"shard {i}/{n} missing" for i in partial.get("missing") or []]
    bits += [f"shard {i}/{n} incomplete" for i in partial.get("incomplete") or []]
    return "; ".join(bits) or None


def _spend(
    manifest: dict[str, Any], meta: dict[str, Any], status: str, simulated: bool = False
) -> tuple[float | None, str]:
    """(total, display text) of what the run's requests cost, e.g.
    '$3.87 (simulated; $3.43 paid live, cache hits free)'.

    The records' own costs (summary meta.total_spend_usd) when any record carries one, with
    the count of records of unknown cost; for a live run whose manifest paid less (cache hits
    are free), that live spend is added. An imported run's manifest spend (0: this tool paid
    nothing) is never shown as the run's cost. No known cost at all: "not measured".
    """
    total = meta.get("total_spend_usd")
    unknown = meta.get("records_unknown_cost") or 0
    n_records = meta.get("n_records")
    known = (n_records - unknown) if isinstance(n_records, int) else None
    has_costs = fmt.ok(total) and (known > 0 if known is not None else total > 0)
    live = manifest.get("spent_usd")
    if live is None:
        live = meta.get("manifest_spent_usd")
    live = live if fmt.ok(live) and status != "imported" else None
    notes = ["simulated"] if simulated else []
    if not has_costs:
        if live is None:
            return None, "not measured"
        return live, fmt.usd(live) + (f" ({'; '.join(notes)})" if notes else "")
    if unknown:
        notes.append(f"unknown for {unknown} records")
    # a judged run's live spend also paid the judge (evaluation cost, reported apart)
    paid = total + (meta.get("total_eval_cost_usd") or 0.0)
    if live is not None and abs(live - paid) > 1e-9 * max(1.0, abs(paid)):
        notes.append(f"{fmt.usd(live)} paid live, cache hits free")
    return total, fmt.usd(total) + (f" ({'; '.join(notes)})" if notes else "")
