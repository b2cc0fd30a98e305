"""Calibration of the curve verdicts over N against known truth (tests/calib_curves.py).

    nice .venv/bin/python benchmarks/coverage_curves.py [--reps 500] [--resamples 1000]
        [--n 50 200 500] [--pool 16]

For each scenario (Beta item difficulty) and item count n it simulates `reps` runs and prints,
next to the same-items rule it replaced:
- bias: the gain left after the saturation point, as reported vs the truth it estimates;
- "levels off": how often it is said, and in what share of those runs the true gain left after
  the named N is within epsilon (1 pt);
- coverage of the remaining gain's 95% CI;
- "still rising": how often, and how often the true gain over the named span is above 0;
- "falls": how often it is said (the curve truly falls only in the `falls` scenario).
Output: Markdown tables (pasted into docs/analysis.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.calib_curves import SCENARIOS, run_cell, stats  # noqa: E402


def _f(x: float, digits: int = 1) -> str:
    return "—" if x != x else f"{x:.{digits}f}"  # NaN: nothing to measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--n", type=int, nargs="+", default=[50, 200, 500])
    ap.add_argument("--pool", type=int, default=16)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    for name, (a, b) in SCENARIOS.items():
        for n in args.n:
            c = run_cell(a, b, n, m=args.pool, reps=args.reps, resamples=args.resamples)
            rows.append((name, n, stats(c)))
            print(f"# {name} n={n} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(
        f"Pools of {args.pool}, epsilon 1 pt, {args.reps} runs per cell, "
        f"{args.resamples} resamples.\n"
    )
    print("Gain left after the saturation point (points, mean over runs):\n")
    print(
        "| scenario | n | same items: reported | same items: true | cross-fitted: reported "
        "| its target | true after the named N | CI coverage % |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, n, s in rows:
        print(
            f"| {name} | {n} | {_f(s['old_gain_reported'], 2)} | {_f(s['old_gain_true'], 2)} "
            f"| {_f(s['new_gain_reported'], 2)} | {_f(s['new_gain_target'], 2)} "
            f"| {_f(s['new_gain_true_at_point'], 2)} | {_f(s['new_gain_coverage_pct'])} |"
        )
    print("\nClaims (% of runs; 'true' = % of those runs where the claim holds):\n")
    print(
        "| scenario | n | old “levels off” | true | “levels off” | true | false (% of all runs) "
        "| “still rising” | true | old “falls” | “falls” |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, n, s in rows:
        print(
            f"| {name} | {n} | {_f(s['old_levels_off_pct'])} | {_f(s['old_levels_off_true_pct'])} "
            f"| {_f(s['new_levels_off_pct'])} | {_f(s['new_levels_off_true_pct'])} "
            f"| {_f(s['new_false_levels_off_pct'])} | {_f(s['still_rising_pct'])} "
            f"| {_f(s['still_rising_true_pct'])} | {_f(s['old_falls_pct'])} "
            f"| {_f(s['new_falls_pct'])} |"
        )
    print(f"\n_{time.perf_counter() - t0:.0f} s_")


if __name__ == "__main__":
    main()
