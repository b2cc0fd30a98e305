"""How far the automatic verdict (an LLM judge, or any scorer) agrees with human labels, on
the units a reviewer labelled: agreement rate, Cohen's kappa, the confusion matrix.

A unit is one (item, config) output; one item's units share a reviewer's reading of the
item, so intervals treat items as clusters:
- agreement rate: Wilson score interval on effective counts (divided by the design effect of
  the items; `stats.mean_interval`);
- kappa: percentile bootstrap over items (`resamples` multinomial item weights, `seed`),
  computed from weighted confusion counts, so one matrix product gives every replicate.

Kappa = (p_o − p_e) / (1 − p_e), p_o the observed agreement and p_e the agreement expected
from the two raters' marginal pass rates (Cohen 1960); None when p_e = 1 (both raters gave
one label to everything: agreement says nothing then).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tts_bench.analysis.stats import mean_interval

RESAMPLES = 2000
MIN_UNITS = 2  # below this, no interval


def kappa_from_counts(counts: np.ndarray) -> np.ndarray:
    """Cohen's kappa of confusion counts shaped (..., K, K) (rows: judge, columns: human);
    NaN where chance agreement is 1 or there are no units."""
    c = np.asarray(counts, dtype=float)
    n = c.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(c, axis1=-2, axis2=-1) / n
        pe = (c.sum(axis=-1) * c.sum(axis=-2)).sum(axis=-1) / (n * n)
        k = (po - pe) / (1 - pe)
    return np.where((n > 0) & (pe < 1 - 1e-12), k, np.nan)


def confusion(judge: np.ndarray, human: np.ndarray) -> np.ndarray:
    """2 × 2 counts: [[judge pass & human pass, judge pass & human fail], [judge fail &
    human pass, judge fail & human fail]]."""
    j, h = np.asarray(judge, dtype=bool), np.asarray(human, dtype=bool)
    return np.array([[np.sum(j & h), np.sum(j & ~h)], [np.sum(~j & h), np.sum(~j & ~h)]])


def kappa_interval(
    judge: np.ndarray,
    human: np.ndarray,
    items: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of kappa, resampling items (all of an item's units together)."""
    j, h = np.asarray(judge, dtype=bool), np.asarray(human, dtype=bool)
    codes, idx = np.unique(np.asarray(items), return_inverse=True)
    g = codes.size
    if j.size < MIN_UNITS or g < 2:
        return None, None
    cell = (~j).astype(int) * 2 + (~h).astype(int)  # 0: pp, 1: pf, 2: fp, 3: ff
    per_item = np.zeros((g, 4))
    np.add.at(per_item, (idx, cell), 1.0)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(g, np.full(g, 1.0 / g), size=resamples)
    k = kappa_from_counts((w @ per_item).reshape(resamples, 2, 2))
    k = k[~np.isnan(k)]
    if k.size < resamples / 2:  # mostly undefined replicates: no honest interval
        return None, None
    a = (1 - confidence) / 2
    lo, hi = np.quantile(k, [a, 1 - a])
    return float(lo), float(hi)


def agreement_block(
    judge: np.ndarray,
    human: np.ndarray,
    items: np.ndarray,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Agreement of 0/1 verdicts `judge` with 0/1 labels `human` on units of `items`:
    n, n_items, agreement {value, ci, method}, kappa {value, ci, method}, confusion (counts
    and the judge's false pass / false fail rates), both raters' pass rates."""
    j, h = np.asarray(judge, dtype=bool), np.asarray(human, dtype=bool)
    it = np.asarray(items)
    n = int(j.size)
    out: dict[str, Any] = {"n": n, "n_items": int(np.unique(it).size) if n else 0}
    if n == 0:
        return {**out, "agreement": None, "kappa": None, "confusion": None}
    agree = (j == h).astype(float)
    lo, hi, method = mean_interval(agree, list(it), confidence)
    cm = confusion(j, h)
    k = kappa_from_counts(cm)
    k_lo, k_hi = kappa_interval(j, h, it, confidence=confidence, resamples=resamples, seed=seed)
    human_fail, human_pass = int(cm[:, 1].sum()), int(cm[:, 0].sum())
    return {
        **out,
        "agreement": {"value": float(agree.mean()), "ci": [lo, hi], "method": method},
        "kappa": {
            "value": None if np.isnan(k) else float(k),
            "ci": [k_lo, k_hi],
            "method": "percentile bootstrap over items",
        },
        "confusion": {
            "judge_pass_human_pass": int(cm[0, 0]),
            "judge_pass_human_fail": int(cm[0, 1]),
            "judge_fail_human_pass": int(cm[1, 0]),
            "judge_fail_human_fail": int(cm[1, 1]),
            # the two ways a judge misleads: passing what a human fails, and the reverse
            "false_pass_rate": cm[0, 1] / human_fail if human_fail else None,
            "false_fail_rate": cm[1, 0] / human_pass if human_pass else None,
        },
        "judge_pass_rate": float(j.mean()),
        "human_pass_rate": float(h.mean()),
    }


def raw_agreement(judge_labels: list[str], human_labels: list[str]) -> dict[str, Any] | None:
    """On a scale of more than two labels (1-5, a list): exact agreement and kappa on the
    labels themselves (units where the judge gave one), beside the pass/fail figures."""
    pairs = [(a, b) for a, b in zip(judge_labels, human_labels, strict=True) if a]
    if not pairs:
        return None
    cats = sorted({x for p in pairs for x in p})
    pos = {c: i for i, c in enumerate(cats)}
    cm = np.zeros((len(cats), len(cats)))
    for a, b in pairs:
        cm[pos[a], pos[b]] += 1
    k = kappa_from_counts(cm)
    return {
        "n": len(pairs),
        "labels": cats,
        "exact_agreement": float(np.trace(cm) / len(pairs)),
        "kappa": None if np.isnan(k) else float(k),
        "confusion": cm.astype(int).tolist(),
    }
