"""The figures in docs/judging.md, measured.

1. Coverage of the 95% intervals on simulated judged runs with a known truth: the judge
   alone (Wilson on its verdicts) against the corrected (prediction-powered) interval, for
   judges of several error rates and biases and several review sizes.
2. The support suite (simulated models and judge) run end to end on 300 items, a review of
   N items labelled by the suite's hidden truth checker: per config the true accuracy, the
   judge's, the corrected one, agreement and kappa.

    .venv/bin/python scripts/judging_demo.py [--reps 2000] [--review 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from tts_bench.analysis.ppi import ppi_mean
from tts_bench.analysis.stats import wilson

ROOT = Path(__file__).resolve().parents[1]


def coverage(reps: int, n_items: int, n_lab: int, err: float, bias: float, seed: int = 0):
    """(corrected coverage, judge-only coverage, mean corrected half-width, judge bias) over
    `reps` runs of `n_items` items (true pass rate 0.7, 60% long outputs)."""
    rng = np.random.default_rng(seed)
    p = 0.7
    y = rng.random((reps, n_items)) < p
    long = rng.random((reps, n_items)) < 0.6
    f = np.where(rng.random((reps, n_items)) < err, ~y, y)
    f |= long & ~y & (rng.random((reps, n_items)) < bias)
    y, f = y.astype(float), f.astype(float)
    s = np.zeros(n_items, str)
    lab = np.arange(n_items) < n_lab  # items are iid: the first n are a random draw
    hit = jhit = 0
    half = []
    for r in range(reps):
        e = ppi_mean(f[r], s, f[r, lab], y[r, lab], s[lab])
        hit += e["ci"][0] <= p <= e["ci"][1]
        half.append((e["ci"][1] - e["ci"][0]) / 2)
        lo, hi = wilson(float(f[r].sum()), n_items)
        jhit += lo <= p <= hi
    return hit / reps, jhit / reps, float(np.mean(half)), float(f.mean() - p)


def support(review: int, out: Path) -> list[dict]:
    from tts_bench import runner
    from tts_bench import suite as suite_mod
    from tts_bench.analysis import summarize
    from tts_bench.data.builtin.support import truth
    from tts_bench.data.loader import load_items
    from tts_bench.review.export import export_review
    from tts_bench.review.labels import import_labels

    suite = suite_mod.load(ROOT / "suites" / "support.yaml")
    res = runner.run(suite, out_dir=out, run_id="support", cache_path=out / "cache.sqlite")
    run = res.run_dir
    items = {it.id: it for it in load_items(suite.dataset)[0]}
    exp = export_review(run, out / "review.html", size=review, by=["difficulty"], seed=0)
    with exp.csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["unit", "label"])
        for r in rows:
            w.writerow([r["unit"], "pass" if truth(items[r["item_id"]], r["output"]) else "fail"])
    import_labels(run, out / "labels.csv", replace=True)
    true: dict[str, list[bool]] = defaultdict(list)
    for line in (run / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["correct"] is not None:
            true[r["config"]].append(truth(items[r["item_id"]], r["output"] or ""))
    judged = summarize(run)["judged"]
    out_rows = []
    for e in judged["configs"]:
        t = float(np.mean(true[e["config"]]))
        d = e["delta"] or {}
        out_rows.append(
            {
                "config": e["config"],
                "true": t,
                "judge": e["judge_only"]["value"],
                "judge_ci": e["judge_only"]["ci"],
                "corrected": e["corrected"]["value"],
                "corrected_ci": e["corrected"]["ci"],
                "judge_delta": (d.get("judge_only") or {}).get("value"),
                "judge_delta_ci": (d.get("judge_only") or {}).get("ci"),
                "corrected_delta": (d.get("corrected") or {}).get("value"),
                "corrected_delta_ci": (d.get("corrected") or {}).get("ci"),
                "agreement": e["agreement"]["agreement"]["value"],
                "kappa": e["agreement"]["kappa"]["value"],
                "n_labelled": e["corrected"]["n_labelled"],
            }
        )
    return out_rows


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def pts(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--review", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    print("## Coverage of the 95% intervals (true accuracy 70%, 1,000 judged items)\n")
    print(
        "| judge error | long-answer bias | labelled | judge bias | judge-alone coverage "
        "| corrected coverage | corrected ± |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for err, bias in ((0.05, 0.0), (0.1, 0.0), (0.08, 0.3), (0.08, 0.5), (0.2, 0.5)):
        for n_lab in (50, 100, 200):
            c, j, h, b = coverage(a.reps, 1000, n_lab, err, bias)
            print(
                f"| {err:.0%} | {bias:.0%} | {n_lab} | {pts(b)} pts | {j:.1%} | {c:.1%} | "
                f"{100 * h:.1f} pts |"
            )
    out = a.out or Path(tempfile.mkdtemp(prefix="judging-demo-"))
    rows = support(a.review, out)
    print(f"\n## suites/support.yaml, 300 items, {a.review} reviewed (hidden truth as reviewer)\n")
    print(
        "| config | true | judge alone (95% CI) | corrected (95% CI) | Δ judge alone | "
        "Δ corrected | agreement | κ |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        jci = f"{pct(r['judge_ci'][0])}..{pct(r['judge_ci'][1])}"
        cci = f"{pct(r['corrected_ci'][0])}..{pct(r['corrected_ci'][1])}"

        def delta(v, ci):
            return "baseline" if v is None else f"{pts(v)} ({pts(ci[0])}..{pts(ci[1])})"

        print(
            f"| {r['config']} | {pct(r['true'])} | {pct(r['judge'])} ({jci}) | "
            f"{pct(r['corrected'])} ({cci}) | {delta(r['judge_delta'], r['judge_delta_ci'])} | "
            f"{delta(r['corrected_delta'], r['corrected_delta_ci'])} | {pct(r['agreement'])} | "
            f"{r['kappa']:.2f} |"
        )
    print(f"\nrun directory: {out / 'support'}")


if __name__ == "__main__":
    main()
