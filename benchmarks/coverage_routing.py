"""Calibration of the routing figures at the full repetition count (docs/analysis.md).

    nice -n 10 .venv/bin/python benchmarks/coverage_routing.py [--reps 1000] [--seed 0]

Two scenarios (tests/calib_routing.py), four strata of equal size, epsilon 1 point:
`null`, four truly equal configs (the same accuracy per stratum, independent noise, equal
cost); `specialists`, a cheap config good on the easy strata, a dear one good everywhere and
two in between. Per scenario and item count it prints the mean error of the routed and
best-single accuracy against the truth of what was chosen (cross-fitted, and in sample),
and the coverage of the routed accuracy, best-single accuracy and routed - single intervals.

Then the adaptive replay (tests/calib_adaptive.py): pools of 16 samples per item, an item's
chance of the right answer from Beta(2, 1), 10% abstentions; the coverage of the accuracy
and mean-samples intervals of every rule (mean over the 13 rules, and the worst rule)
against the truth (the replay on 40,000 fresh items), replayed over 100 orders per item.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from calib_adaptive import PoolScenario  # noqa: E402
from calib_adaptive import simulate as simulate_replay  # noqa: E402
from calib_routing import null, simulate, specialists  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--items", type=int, nargs="+", default=[100, 200, 500])
    ap.add_argument("--replay-reps", type=int, default=300)
    ap.add_argument("--replay-items", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--skip-routing", action="store_true")
    args = ap.parse_args()
    if not args.skip_routing:
        routing(args)
    print()
    print("| replay items | reps | accuracy CI coverage (mean / worst rule) | "
          "mean-samples CI coverage (mean / worst rule) |")  # fmt: skip
    print("|---|---|---|---|")
    for n in args.replay_items:
        c = simulate_replay(PoolScenario(n), args.replay_reps, seed=args.seed)
        print(
            f"| {n} | {args.replay_reps} | {c.accuracy:.1%} / {c.accuracy_worst:.1%} | "
            f"{c.samples:.1%} / {c.samples_worst:.1%} |",
            flush=True,
        )


def routing(args: argparse.Namespace) -> None:
    print(
        "| scenario | n | routed − truth, cross-fitted (± MC s.e.) | in sample | "
        "best single − truth, cross-fitted | in sample | routed CI coverage (width) | "
        "best-single CI coverage | routed − single CI coverage |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, make in (("null", null), ("specialists", specialists)):
        for n in args.items:
            t = time.perf_counter()
            r = simulate(make(n), args.reps, seed=args.seed)
            print(
                f"| {name} | {n} | {r.gain:+.2f} ± {r.gain_se:.2f} pts | "
                f"{r.gain_in_sample:+.2f} pts | {r.single_gain:+.2f} ± {r.single_gain_se:.2f} "
                f"pts | {r.single_gain_in_sample:+.2f} pts | {r.coverage:.1%} "
                f"({r.width:.1f} pts) | {r.single_coverage:.1%} | {r.delta_coverage:.1%} |",
                flush=True,
            )
            print(f"<!-- {time.perf_counter() - t:.0f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main()
