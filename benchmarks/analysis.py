"""Benchmark: summary.json for 1,000 items x 8 configs x 16-sample pools, 10,000 resamples.

    .venv/bin/python benchmarks/analysis.py [--items 1000] [--resamples 10000]

Target: under 10 s on 2 cores. Prints the time of each stage and the total.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.analysis_fixtures import Cfg, make_run  # noqa: E402


def configs() -> list[Cfg]:
    out = [Cfg("single", {"easy": 0.8, "hard": 0.4}, pool=16, knobs={"n": [1, 2, 4, 8, 16]})]
    for j in range(7):
        out.append(
            Cfg(
                f"c{j}",
                {"easy": 0.7 + 0.02 * j, "hard": 0.35 + 0.03 * j},
                pool=16,
                scores=j % 3 == 2,
                cost=0.001 * (j + 1),
                knobs={"n": [1, 2, 4, 8, 16]},
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args()
    from tts_bench.analysis import write_summary

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = make_run(Path(tmp), n_items=args.items, configs=configs(), clusters=None)
        t1 = time.perf_counter()
        print(f"generate records: {t1 - t0:.2f} s ({args.items} items x 8 configs x 16 samples)")
        for label in ("first call (imports, cold caches)", "second call"):
            w0, c0 = time.perf_counter(), time.process_time()
            write_summary(run, resamples=args.resamples)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            print(
                f"summary, {args.resamples} resamples, {label}: {wall:.2f} s wall, {cpu:.2f} s CPU"
            )


if __name__ == "__main__":
    main()
