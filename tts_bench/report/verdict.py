"""The sentences a reader acts on: one per config, the routing policy, the power line, and the
run facts block. Shared by report.html, summary.md and compare.html."""

from __future__ import annotations

from typing import Any

from tts_bench.report import fmt
from tts_bench.report.model import PARTIAL, get


def config_sentence(c: dict[str, Any], metric: str = "accuracy") -> str:
    """'sc: +7.2 pts (95% CI +4.1..+10.3) at 4.8× cost, P95 2.1×; saturates at N=4'.

    'not significant after Holm correction (p=…)' follows the CI when the Holm-adjusted test
    says so; 'not saturated by N=K' replaces the saturation point when the curve still gains
    more than ε at the largest N measured."""
    name = c["name"]
    if c["is_baseline"]:
        return (
            f"{name} (baseline): {fmt.pct(c['acc'])} {metric} "
            f"(95% CI {fmt.ci(c['acc_lo'], c['acc_hi'])}), {fmt.usd(c['cost_mean'])}/request, "
            f"P95 {fmt.secs(c['p95'])}"
        )
    if not fmt.ok(c["delta"]):
        head = f"{name}: {metric} delta not measured"
    else:
        head = f"{name}: {fmt.pts(c['delta'])} pts (95% CI {fmt.ci(c['delta_lo'], c['delta_hi'], fmt.pts)}"
        if c["significant"] is False:
            # the CI is the unadjusted bootstrap interval; significance is the Holm-adjusted test
            head += ", not significant after Holm correction"
            if fmt.ok(c.get("p_holm")):
                p = fmt.pvalue(c["p_holm"])
                head += f" (p{p})" if p.startswith("<") else f" (p={p})"
        head += ")"
    cost = f"{fmt.ratio(c['cost_ratio'])} cost" if fmt.ok(c["cost_ratio"]) else "cost not measured"
    s = f"{head} at {cost}, P95 {fmt.ratio(c['p95_ratio'])}"
    sat = c.get("saturation")
    if sat and sat.get("point"):
        if sat.get("saturated"):
            s += f"; saturates at N={sat['point']}"
            where = "at larger N"
        else:  # the remaining gain only fell within ε at the largest N measured
            s += f"; not saturated by N={sat['max_n']}"
            where = "along N"
        if sat.get("falls"):
            drop = sat.get("max_drop")
            s += (
                f" (falls by up to {drop:.1f} pts {where})" if fmt.ok(drop) else f" (falls {where})"
            )
    return s


def routing_sentence(r: dict[str, Any] | None) -> str | None:
    """'Route difficulty: easy → single, hard → large: 81.2% at $0.0011/request, P95 2.10 s
    (best single config large: 82.0% at $0.0020).'"""
    if not r or not r["rows"]:
        return None
    routes = ", ".join(f"{x['value']} → {x['label']}" for x in r["rows"])
    col = f" {r['column']}" if r.get("column") else ""
    s = f"Route{col}: {routes}: {fmt.pct(r['acc'])} at {fmt.usd(r['cost'])}/request"
    if fmt.ok(r.get("p95")):
        s += f", P95 {fmt.secs(r['p95'])}"
    if r.get("best_config"):
        s += (
            f" (best single config {r['best_config']}: {fmt.pct(r['best_acc'])} "
            f"at {fmt.usd(r['best_cost'])})"
        )
    return s + "."


def power_sentence(vm: dict[str, Any]) -> str | None:
    """The minimum detectable effect at the current item count (first config with a power
    block), and the items needed for the target delta when one is set."""
    for c in vm["configs"]:
        p = c.get("power")
        if not p or not fmt.ok(p.get("mde")):
            continue
        s = (
            f"With {p.get('n')} paired items, the smallest accuracy delta detectable with "
            f"{p.get('power', 0.8):.0%} power at α {p.get('alpha', 0.05)} is about "
            f"{p['mde']:.1f} pts (from {c['name']} vs baseline)"
        )
        if fmt.ok(p.get("target_delta")) and p.get("n_for_target"):
            s += f"; detecting {p['target_delta']:.1f} pts needs about {p['n_for_target']} items"
        return s + "."
    return None


def facts(manifest: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """Run facts for the header block: suite, models, fingerprint, counts, status, spend."""
    meta = summary.get("meta") or {}
    suite = manifest.get("suite") or {}
    status = manifest.get("status") or meta.get("status") or "unknown"
    models = sorted({c.get("model") for c in manifest.get("configs") or [] if c.get("model")})
    strata = meta.get("item_counts") or manifest.get("strata_counts") or {}
    per_stratum = "; ".join(
        f"{col}: " + ", ".join(f"{k} {v}" for k, v in vals.items()) for col, vals in strata.items()
    )
    spend, spend_text = _spend(manifest, meta, status)
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
        "unknown_cost": meta.get("records_unknown_cost"),
        "simulated": bool(manifest.get("simulated") or meta.get("simulated")),
        "baseline": meta.get("baseline") or manifest.get("baseline") or suite.get("baseline"),
        "resamples": meta.get("resamples"),
        "notes": [n for n in get(meta, "notes") or [] if isinstance(n, str)],
    }


def _spend(manifest: dict[str, Any], meta: dict[str, Any], status: str) -> tuple[float | None, str]:
    """(total, display text) of what the run's requests cost.

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
    if not has_costs:
        return live, fmt.usd(live) if live is not None else "not measured"
    text = fmt.usd(total) + (f" (unknown for {unknown} records)" if unknown else "")
    if live is not None and abs(live - total) > 1e-9 * max(1.0, abs(total)):
        text += f"; {fmt.usd(live)} paid in live calls (cache hits are free)"
    return total, text
