"""Prediction-powered estimates (Angelopoulos et al. 2023, "Prediction-powered inference"):
the automatic verdicts (a judge) on every item, rectified by the items a human labelled.

For a config, with judge verdicts f on its N scored items and human labels y on the n of them
a reviewer labelled, drawn at random within strata h (weights W_h = N_h / N):

    theta = sum_h W_h [ mean_{N_h}(f) + mean_{n_h}(y − f) ]
    Var   = sum_h W_h^2 [ s^2_h(y) / N_h + (1 − n_h/N_h) s^2_h(y − f) / n_h ]

and a normal interval theta ± z·sqrt(Var) — the classical PPI mean estimator, stratified
(post-stratified when strata were not the sampling design), its variance taking into account
that the labelled items are among the judged ones (`_stratum_var`). The judge's bias is whatever
mean(y − f) finds; its noise costs the second term. Without strata (or when a stratum has
fewer than `MIN_PER_STRATUM` labelled items) one stratum. The paired delta against the
baseline is the same estimator on per-item differences (f_c − f_b, y_c − y_b) over items
both configs scored (and, for y, both have labels for).

`judged_section` is summary.json's `judged` block; `review_size` the labels a target
interval needs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.analysis.agreement import agreement_block, raw_agreement
from tts_bench.analysis.stats import _z, paired_interval, wilson

MIN_PER_STRATUM = 2


def ppi_mean(
    f_all: np.ndarray,
    strata_all: np.ndarray,
    f_lab: np.ndarray,
    y_lab: np.ndarray,
    strata_lab: np.ndarray,
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> dict[str, Any]:
    """{value, ci, se, n, n_labelled, stratified} of the prediction-powered mean; `ci`
    clipped to `bounds`. None figures when fewer than two items are labelled."""
    f_all, f_lab, y_lab = (np.asarray(a, dtype=float) for a in (f_all, f_lab, y_lab))
    s_all, s_lab = np.asarray(strata_all).astype(str), np.asarray(strata_lab).astype(str)
    out: dict[str, Any] = {"n": int(f_all.size), "n_labelled": int(y_lab.size)}
    if y_lab.size < MIN_PER_STRATUM or f_all.size == 0:
        return {**out, "value": None, "ci": [None, None], "se": None, "stratified": False}
    keys = np.unique(s_all)
    counts = {k: int(np.sum(s_lab == k)) for k in keys}
    stratified = len(keys) > 1 and min(counts.values()) >= MIN_PER_STRATUM
    if not stratified:
        s_all, s_lab, keys = np.zeros(f_all.size, str), np.zeros(y_lab.size, str), np.array([""])
    theta = var = 0.0
    n_total = f_all.size
    for k in keys:
        fa = f_all[s_all == k]
        fl = f_lab[s_lab == k]
        rect = y_lab[s_lab == k] - fl
        w = fa.size / n_total
        theta += w * (fa.mean() + rect.mean())
        var += w * w * _stratum_var(fa, fl, rect)
    se = math.sqrt(var)
    z = _z(0.5 + confidence / 2)
    lo, hi = max(bounds[0], theta - z * se), min(bounds[1], theta + z * se)
    return {**out, "value": theta, "ci": [lo, hi], "se": se, "stratified": stratified}


def _stratum_var(fa: np.ndarray, fl: np.ndarray, rect: np.ndarray) -> float:
    """Variance of mean(f over N) + mean(y − f over n) when the n labelled items are drawn
    from the N judged ones: s²(y)/N + (1 − n/N) s²(y − f)/n, with s²(y) = s²(f) + s²(y − f) +
    2 cov(f, y − f) (s²(f) over N, the others over n). The classical PPI variance,
    s²(f)/N + s²(y − f)/n, assumes disjoint sets; it is this plus 2 cov(f, y − f)/N, which a
    judge's errors make negative, so it over-covers."""
    big, n = fa.size, rect.size
    var_f = fa.var(ddof=1) if big > 1 else 0.0
    var_r = rect.var(ddof=1)
    cov = float(np.cov(fl, rect, ddof=1)[0, 1]) if n > 1 else 0.0
    var_y = max(0.0, var_f + var_r + 2 * cov)
    return var_y / big + max(0.0, 1 - n / big) * var_r / n


def _labels_by_config(labels: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for lab in labels:
        out.setdefault(lab["config"], {})[lab["item_id"]] = bool(lab["human_pass"])
    return out


def _judge_label(rec: dict[str, Any] | None) -> str:
    judge = ((rec or {}).get("info") or {}).get("judge") or {}
    return str(judge.get("label") or "") if isinstance(judge, dict) else ""


def judged_section(data: Any, *, confidence: float = 0.95, seed: int = 0) -> dict[str, Any] | None:
    """summary.json's `judged` block, or None when no human labels were imported: per config
    the judge-only and corrected accuracy and delta vs the baseline with CIs, agreement and
    kappa (overall, per config, per stratum value), the confusion matrix, labels used."""
    from tts_bench.review.labels import read_design, read_labels
    from tts_bench.review.sample import stratum_key

    labels = read_labels(data.run_dir)
    if not labels:
        return None
    design = read_design(data.run_dir)
    by = [c for c in (design or {}).get("by", []) if c in data.strata]
    items = np.asarray(data.items)
    n_items = len(data.items)
    skey = np.array([stratum_key({c: data.strata[c][i] for c in by}, by) for i in range(n_items)])
    human = _labels_by_config(labels)
    known = set(data.configs)
    notes = []
    unknown_cfg = sorted(set(human) - known)
    if unknown_cfg:
        notes.append(f"labels for configs not in the records ignored: {', '.join(unknown_cfg)}")
    if design is None:
        notes.append("no review design: the labelled items are taken as a simple random sample")
    y = np.full((len(data.configs), n_items), np.nan)
    for c, name in enumerate(data.configs):
        for i, it in enumerate(data.items):
            v = human.get(name, {}).get(it)
            if v is not None:
                y[c, i] = float(v)
    f = data.correct
    lab = ~np.isnan(y) & ~np.isnan(f)
    judge_missing = int((~np.isnan(y) & np.isnan(f)).sum())
    if judge_missing:
        notes.append(f"{judge_missing} labelled outputs have no automatic verdict: left out")
    units = np.argwhere(lab)  # (config, item) of every compared unit
    all_j, all_h = f[lab].astype(bool), y[lab].astype(bool)
    all_items = items[units[:, 1]]
    kw = {"confidence": confidence, "seed": seed}
    overall = agreement_block(all_j, all_h, all_items, **kw)
    per_stratum: dict[str, dict[str, Any]] = {}
    for col, vals in data.strata.items():
        arr = np.asarray(vals)[units[:, 1]]
        per_stratum[col] = {
            v: agreement_block(all_j[arr == v], all_h[arr == v], all_items[arr == v], **kw)
            for v in data.strata_values[col]
        }
    b = data.index(data.baseline)
    configs = []
    for c, name in enumerate(data.configs):
        scored = ~np.isnan(f[c])
        lc = lab[c]
        fc = f[c]
        jo = wilson(float(fc[scored].sum()), int(scored.sum()), confidence)
        entry: dict[str, Any] = {
            "config": name,
            "judge_only": {
                "value": float(fc[scored].mean()) if scored.any() else None,
                "ci": list(jo) if jo else [None, None],
                "method": "wilson",
            },
            "corrected": ppi_mean(
                fc[scored], skey[scored], fc[lc], y[c, lc], skey[lc], confidence=confidence
            ),
            "agreement": agreement_block(
                fc[lc].astype(bool), y[c, lc].astype(bool), items[lc], **kw
            ),
        }
        jl = [_judge_label(data.records[c][i]) for i in np.flatnonzero(lc)]
        if any(jl) and any(x not in ("", "pass", "fail") for x in jl):
            raw = {lb["item_id"]: lb["label"] for lb in labels if lb["config"] == name}
            entry["raw_agreement"] = raw_agreement(jl, [raw.get(str(it), "") for it in items[lc]])
        entry["delta"] = None if c == b else _delta(f, y, lab, c, b, skey, confidence)
        configs.append(entry)
    design_out = None
    if design is not None:
        design_out = {k: design.get(k) for k in ("by", "seed", "allocation", "size", "created_at")}
    return {
        "n_labels": int(lab.sum()),
        "n_labelled_items": int(lab.any(axis=0).sum()),
        "design": design_out,
        "agreement": overall,
        "strata": per_stratum,
        "configs": configs,
        "method": {
            "corrected": "prediction-powered mean (Angelopoulos et al. 2023), stratified by "
            "the review design; normal interval",
            "judge_only": "wilson score interval on the judge's verdicts",
            "delta_judge_only": "tango paired score interval on the judge's verdicts",
        },
        "notes": notes,
    }


def _delta(
    f: np.ndarray,
    y: np.ndarray,
    lab: np.ndarray,
    c: int,
    b: int,
    skey: np.ndarray,
    confidence: float,
) -> dict[str, Any]:
    """Judge-only and corrected paired delta of config c against the baseline b."""
    both = ~np.isnan(f[c]) & ~np.isnan(f[b])
    both_lab = lab[c] & lab[b]
    d_f = f[c] - f[b]
    lo, hi, _ = paired_interval(d_f[both], None, confidence)
    judge_only = {
        "value": float(d_f[both].mean()) if both.any() else None,
        "ci": [lo, hi],
        "n_paired": int(both.sum()),
    }
    corr = ppi_mean(
        d_f[both],
        skey[both],
        d_f[both_lab],
        (y[c] - y[b])[both_lab],
        skey[both_lab],
        confidence=confidence,
        bounds=(-1.0, 1.0),
    )
    return {"judge_only": judge_only, "corrected": corr}


# -- how many labels -----------------------------------------------------------------------------
def review_size(
    half_width: float,
    *,
    items: int,
    disagreement: float,
    judge_pass: float = 0.5,
    confidence: float = 0.95,
) -> int | None:
    """Labelled items for a CI half-width `half_width` (a fraction) of the corrected accuracy
    over `items` judged items, from the estimator's variance s²(y)/N + (1 − n/N) s²(y − f)/n:
    n = s²(y − f) / (h²/z² − (s²(y) − s²(y − f))/N), with s²(y − f) at most the disagreement
    rate (E (y − f)² is that rate) and s²(y) ≈ p (1 − p) at the judge's pass rate. None when
    N items alone are too few for that width (even labelling all of them)."""
    z = _z(0.5 + confidence / 2)
    var_r, var_y = disagreement, judge_pass * (1 - judge_pass)
    room = half_width**2 / (z * z) - (var_y - var_r) / items
    if room <= 0 or var_y / items > half_width**2 / (z * z):
        return None
    if var_r <= 0:
        return MIN_PER_STRATUM
    return max(MIN_PER_STRATUM, math.ceil(var_r / room))


ASSUMED_DISAGREEMENT = 0.1  # judge vs human, when no labels say otherwise
PLAN_WIDTH_POINTS = 5.0  # the half-width `plan` sizes the review for


def observed_disagreement(
    run_dir: Path | str, config: str | None = None
) -> tuple[float, float, int, int] | None:
    """(disagreement rate, judge pass rate, labels, judged items) from a run's imported
    labels (of one config, or all), or None when it has none."""
    from tts_bench.review.labels import read_labels
    from tts_bench.store import load_records

    recs = {(str(r["item_id"]), str(r["config"])): r for r in load_records(run_dir)}
    pairs = [
        (bool(recs[k]["correct"]), lb["human_pass"])
        for lb in read_labels(run_dir)
        if (config is None or lb["config"] == config)
        and (k := (lb["item_id"], lb["config"])) in recs
        and recs[k].get("correct") is not None
    ]
    if not pairs:
        return None
    rate = sum(a != b for a, b in pairs) / len(pairs)
    return rate, sum(a for a, _ in pairs) / len(pairs), len(pairs), len({k[0] for k in recs})


def review_note(
    items: int, *, from_run: Path | str | None = None, config: str | None = None
) -> str:
    """`plan`'s line for a judged config: the labelled items a 95% CI of
    ±`PLAN_WIDTH_POINTS` on its corrected accuracy needs, at the disagreement rate observed
    in `from_run`'s labels of `config` when it has some, else `ASSUMED_DISAGREEMENT`."""
    seen = observed_disagreement(from_run, config) if from_run is not None else None
    rate, judge_pass = (seen[0], seen[1]) if seen else (ASSUMED_DISAGREEMENT, 0.5)
    source = (
        f"judge-human disagreement {rate:.1%} on {seen[2]} labels in {from_run}"
        if seen
        else f"assumed judge-human disagreement {rate:.0%}"
    )
    width, head = PLAN_WIDTH_POINTS, ""
    n = review_size(width / 100, items=items, disagreement=rate, judge_pass=judge_pass)
    if n is None:  # too few items for ±5 even fully labelled: size it for what they allow
        best = 100 * _z(0.975) * math.sqrt(judge_pass * (1 - judge_pass) / items)
        width = float(math.ceil(best + 1))
        head = f"±{PLAN_WIDTH_POINTS:g} pts is out of reach with {items} items; "
        n = review_size(width / 100, items=items, disagreement=rate, judge_pass=judge_pass)
    return (
        f"human review: {head}about {min(n or items, items)} labelled items for a 95% CI of "
        f"±{width:g} pts on the corrected accuracy ({source}; `tts-bench review plan` for "
        "other widths)"
    )


def review_size_line(
    width_points: float,
    *,
    items: int,
    disagreement: float,
    run_dir: Path | str | None = None,
) -> str:
    """One sentence: labels needed for ±`width_points` on the corrected accuracy, from an
    assumed disagreement rate or from a run's imported labels (`run_dir`)."""
    judge_pass, source = 0.5, f"assumed judge-human disagreement {disagreement:.0%}"
    if run_dir is not None:
        seen = observed_disagreement(run_dir)
        if seen is None:
            from tts_bench.errors import UserError

            raise UserError(f"{run_dir}: no imported labels (tts-bench review import)")
        disagreement, judge_pass, n_labels, items = seen
        source = f"judge-human disagreement {disagreement:.1%} on {n_labels} labels of {run_dir}"
    n = review_size(
        width_points / 100, items=items, disagreement=disagreement, judge_pass=judge_pass
    )
    if n is None:
        return (
            f"review: ±{width_points:g} pts on the corrected accuracy is out of reach with "
            f"{items} judged items, however many are labelled ({source})"
        )
    return (
        f"review: label about {min(n, items)} items per config for a 95% CI of "
        f"±{width_points:g} pts on the corrected accuracy over {items} judged items ({source})"
    )
