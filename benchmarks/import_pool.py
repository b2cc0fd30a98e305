"""Time a `pool-jsonl` import of 500 items x 40 samples (target: under 5 s).

Samples are raw completions with tokens, latency and cost, so every sample is extracted and
scored with the numeric scorer, as a real import would. Prints the best of `--repeat` runs,
wall-clock and CPU time (CPU time is the steadier figure on a shared machine).

    .venv/bin/python benchmarks/import_pool.py [--items 500] [--samples 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from tts_bench.importers import import_pools


def write_pool(path: Path, items: int, samples: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w") as fh:
        for i in range(items):
            target = rng.randint(1, 10_000)
            pool = []
            for _ in range(samples):
                a = target if rng.random() < 0.6 else target + rng.randint(1, 5)
                text = (
                    f"We start with {rng.randint(1, 99)} and apply the steps in order.\n"
                    f"After the last step the total is {a}.\nFinal answer: {a}"
                )
                if rng.random() < 0.03:
                    text = "I am not able to work this out."
                pool.append(
                    {
                        "text": text,
                        "input_tokens": 180,
                        "output_tokens": rng.randint(40, 200),
                        "latency_s": round(rng.uniform(0.5, 4.0), 3),
                        "cost_usd": round(rng.uniform(1e-5, 1e-4), 8),
                    }
                )
            row = {
                "id": f"q{i:04d}",
                "target": str(target),
                "samples": pool,
                "strata": {"level": rng.choice(["easy", "medium", "hard"])},
            }
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pool.jsonl"
        write_pool(src, args.items, args.samples)
        size_mb = src.stat().st_size / 1e6
        times, cpu = [], []
        for r in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            res = import_pools(src, fmt="pool-jsonl", out=Path(tmp) / f"run{r}", scorer="numeric")
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        assert res.n_items == args.items and res.pool_size == args.samples
    print(
        f"import of {args.items} items x {args.samples} samples ({size_mb:.1f} MB): "
        f"best {min(times):.2f} s wall, {min(cpu):.2f} s CPU "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)} s wall)"
    )


if __name__ == "__main__":
    main()
