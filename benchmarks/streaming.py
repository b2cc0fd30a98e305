"""Streaming: is the measured time to first token the server's, and what does streaming cost?

    .venv/bin/python benchmarks/streaming.py [--calls 80] [--time-scale 0.2] [--concurrency 8]

Starts `tts-bench sim serve --time-scale S` in a subprocess (its own CPU thread), then:

1. TTFT fidelity. `--calls` streamed calls to `openai/sim-small` (temperature 0.8, one sample
   index each, no cache) through the direct transport and through litellm. The server sends
   each answer's first text at S x the simulator's TTFT and ends it at S x its latency; the
   in-process simulator gives those numbers for the same requests. Prints, per transport,
   plain and streamed, the median and P90 of measured minus expected in ms, for TTFT and for
   latency, and the median ratio measured / expected. The plain rows are the reference: what
   the server and the transport add to any call (request handling, the simulator's own
   compute, event-loop delays); a TTFT excess no larger than that means the first-token
   timing adds no error of its own.
2. Cost of streaming. The same calls at time scale 0 (the server answers at once), plain and
   streamed through each transport, alternating rounds: the client process's CPU seconds
   per call for each, and their ratio (CPU moves far less than wall time with other load on
   the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench import sim  # noqa: E402
from tts_bench.llm import Client  # noqa: E402
from tts_bench.llm.types import ModelSpec  # noqa: E402
from tts_bench.sim.spawn import spawn_sim_serve  # noqa: E402
from tts_bench.suite import Limits  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a careful assistant."},
    {"role": "user", "content": "Tom has 3 apples and buys 4 more, then gives away 2. "
     "How many apples does he have?\nEnd with 'Final answer: <number>'."},
]  # fmt: skip
TEMPERATURE = 0.8


def start_server(time_scale: float) -> tuple[subprocess.Popen, str]:
    return spawn_sim_serve("--time-scale", str(time_scale))


async def calls(base: str, transport: str, stream: bool, n: int, concurrency: int) -> list:
    client = Client(limits=Limits(concurrency=concurrency, timeout_s=60, retries=0, adaptive=False))
    spec = ModelSpec(
        "openai/sim-small",
        temperature=TEMPERATURE,
        max_tokens=512,
        params={"api_base": base, "transport": transport, "stream": stream},
    )
    try:
        return await asyncio.gather(*(client.generate(spec, MESSAGES, sample_index=i)
                                      for i in range(n)))  # fmt: skip
    finally:
        await client.aclose()


def q(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def fidelity(base: str, scale: float, n: int, concurrency: int) -> None:
    expected = [
        sim.simulate("sim/small", MESSAGES, temperature=TEMPERATURE, max_tokens=512,
                     sample_index=i, seed=0)
        for i in range(n)
    ]  # fmt: skip
    print(f"TTFT fidelity: {n} calls per row, time scale {scale:g}, concurrency {concurrency}")
    print("measured minus expected (S x simulated), ms: median / P90; ratio: median")
    print(f"{'transport':18} {'TTFT +ms':>14} {'latency +ms':>14} {'TTFT x':>7} {'latency x':>9}")
    for transport in ("direct", "litellm"):
        asyncio.run(calls(base, transport, True, 4, concurrency))  # warm-up (imports, prices)
        for stream in (False, True):
            got = asyncio.run(calls(base, transport, stream, n, concurrency))
            bad = [c for c in got if not c.ok or (c.ttft_s is None) == stream]
            if bad:
                raise SystemExit(f"{transport}: {len(bad)} calls failed: {bad[0].error}")
            pairs = list(zip(got, expected, strict=True))
            lat = [1000 * (c.latency_s - scale * e.latency_s) for c, e in pairs]
            lat_x = [c.latency_s / (scale * e.latency_s) for c, e in pairs]
            row = f"{transport + (' streamed' if stream else ' plain'):18} "
            if stream:
                ttft = [1000 * (c.ttft_s - scale * e.ttft_s) for c, e in pairs]
                ttft_x = [c.ttft_s / (scale * e.ttft_s) for c, e in pairs]
                row += f"{statistics.median(ttft):6.1f} / {q(ttft, 0.9):5.1f} "
            else:
                row += f"{'—':>14} "
            row += f"{statistics.median(lat):6.1f} / {q(lat, 0.9):5.1f} "
            row += f"{statistics.median(ttft_x):7.2f} " if stream else f"{'—':>7} "
            print(row + f"{statistics.median(lat_x):9.2f}")


def cpu_cost(base: str, n: int, concurrency: int, rounds: int) -> None:
    print(f"client CPU per call at time scale 0 (best of {rounds} rounds of {n} calls):")
    for transport in ("direct", "litellm"):
        asyncio.run(calls(base, transport, True, 8, concurrency))  # warm-up
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for stream in (False, True):
                t0 = time.process_time()
                got = asyncio.run(calls(base, transport, stream, n, concurrency))
                cpu[stream].append((time.process_time() - t0) / n)
                assert all(c.ok for c in got), got[0].error
        plain, streamed = (min(cpu[s]) for s in (False, True))
        print(f"  {transport:8} plain {plain * 1000:6.2f} ms, streamed {streamed * 1000:6.2f} ms, "
              f"ratio {streamed / plain:.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=80)
    ap.add_argument("--time-scale", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    proc, base = start_server(args.time_scale)
    try:
        fidelity(base, args.time_scale, args.calls, args.concurrency)
    finally:
        proc.kill()
    proc, base = start_server(0.0)
    try:
        cpu_cost(base, args.calls, args.concurrency, args.rounds)
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
