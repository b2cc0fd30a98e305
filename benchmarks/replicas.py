"""Replicas: throughput with one `sim serve` replica against three, each capped by `--rpm`.

    .venv/bin/python benchmarks/replicas.py [--calls 150] [--rpm 600] [--rounds 2]
        [--time-scale 0.02] [--concurrency 16]

Each measurement starts fresh `tts-bench sim serve --rpm R --time-scale S` processes (full
rate-limit buckets; start-up is not timed), then sends `--calls` calls to `openai/sim-small`
(distinct sample indices, no cache, one request per call) through one `Client` with the
suite defaults (adaptive concurrency on: each replica is paced by its own rate-limit
headers) and `api_base` set to the first replica or to the list of all three. One replica
and three alternate in each round, so both see the same machine load. Prints per
measurement: wall seconds, calls per second, calls that met a 429 (retried) and the calls
each replica served; then the median speed-up of three replicas over one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench.llm import Client  # noqa: E402
from tts_bench.llm.types import ModelSpec  # noqa: E402
from tts_bench.sim.spawn import spawn_sim_serve  # noqa: E402
from tts_bench.suite import Limits  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a careful assistant."},
    {"role": "user", "content": "Tom has 3 apples and buys 4 more, then gives away 2. "
     "How many apples does he have?\nEnd with 'Final answer: <number>'."},
]  # fmt: skip


def start_server(rpm: int, time_scale: float) -> tuple[subprocess.Popen, str]:
    return spawn_sim_serve("--rpm", str(rpm), "--time-scale", str(time_scale))


async def measure(urls: list[str], calls: int, concurrency: int) -> tuple[float, list]:
    client = Client(limits=Limits(concurrency=concurrency, retries=8))
    spec = ModelSpec(
        "openai/sim-small",
        temperature=0.8,
        pool_request="separate",
        params={"api_base": urls if len(urls) > 1 else urls[0]},
    )
    try:
        await client.generate(spec, MESSAGES, sample_index=10**6)  # warm-up: price look-up
        started = time.perf_counter()
        done = await asyncio.gather(
            *(client.generate(spec, MESSAGES, sample_index=i) for i in range(calls))
        )
        return time.perf_counter() - started, done
    finally:
        await client.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--rpm", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--time-scale", type=float, default=0.02)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    print(
        f"{args.calls} calls per measurement, sim serve --rpm {args.rpm} --time-scale "
        f"{args.time_scale:g} per replica, concurrency {args.concurrency}"
    )
    print(f"{'replicas':>8} {'wall s':>8} {'calls/s':>8} {'met 429':>8}  served per replica")
    speed: dict[int, list[float]] = {1: [], 3: []}
    for _ in range(args.rounds):
        for k in (1, 3):
            servers = [start_server(args.rpm, args.time_scale) for _ in range(k)]
            try:
                urls = [url for _, url in servers]
                wall, done = asyncio.run(measure(urls, args.calls, args.concurrency))
            finally:
                for proc, _ in servers:
                    proc.kill()
                    proc.wait()
            bad = [d for d in done if not d.ok]
            if bad:
                raise SystemExit(f"{len(bad)} calls failed: {bad[0].status} {bad[0].error}")
            per = Counter(d.endpoint or urls[0] for d in done)
            served = " ".join(str(per[u]) for u in urls)
            retried = sum(1 for d in done if d.retries)
            speed[k].append(args.calls / wall)
            print(f"{k:>8} {wall:8.2f} {args.calls / wall:8.1f} {retried:>8}  {served}")
    ratio = statistics.median(speed[3]) / statistics.median(speed[1])
    print(f"three replicas against one: x{ratio:.2f} calls per second (medians)")


if __name__ == "__main__":
    main()
