"""Harness overhead: requests/s through `tts_bench.llm.Client` vs a raw aiohttp client.

    .venv/bin/python benchmarks/overhead.py [--requests 2000] [--concurrency 64] [--delay 0.05]

Starts a minimal OpenAI-compatible server (fixed delay per request) in a subprocess, so it
does not share the client's event loop or CPU thread, then sends the same requests with
(a) a raw aiohttp session bounded by a semaphore and (b) the harness Client (direct
OpenAI-compatible transport for `api_base`, cache off). Each mode is timed `--rounds` times
after a warm-up, alternating; the best round of each is reported with the ratio
harness/raw. Target: ratio >= 0.8. Ideal throughput = concurrency / delay.
It also prints the client process's CPU time per request, which is what the harness adds
and is far less sensitive than throughput to other load on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MESSAGES = [{"role": "user", "content": "What is 17 * 23? End with 'Final answer: <number>'."}]
REPLY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "17 * 23 = 391.\nFinal answer: 391"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 24, "completion_tokens": 12, "total_tokens": 36},
}


def serve(delay: float) -> None:
    """The fixed-delay server (subprocess mode): prints its port, then serves forever."""
    from aiohttp import web

    body = json.dumps(REPLY).encode()

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay)
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def raw_round(url: str, n: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    payload = {"model": "bench", "messages": MESSAGES, "temperature": 0.0, "max_tokens": 64}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            async with sem:
                async with session.post(f"{url}/chat/completions", json=payload) as resp:
                    data = json.loads(await resp.read())
                    assert data["choices"][0]["message"]["content"]

        await one()  # warm-up: open a connection
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0)


async def harness_round(url: str, n: int, concurrency: int) -> float:
    from tts_bench.llm import Client
    from tts_bench.llm.types import ModelSpec
    from tts_bench.suite import Limits

    client = Client(limits=Limits(concurrency=concurrency, timeout_s=30, retries=0))
    spec = ModelSpec("openai/bench", max_tokens=64, params={"api_base": url})
    try:
        first = await client.generate(spec, MESSAGES)  # warm-up: connection, price lookup
        assert first.ok, first.error
        t0 = time.perf_counter()
        out = await asyncio.gather(
            *(client.generate(spec, MESSAGES, sample_index=i) for i in range(n))
        )
        rate = n / (time.perf_counter() - t0)
        assert all(c.ok for c in out)
        return rate
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05, help="server delay per request, s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.delay)
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--delay", str(args.delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        asyncio.run(harness_round(url, 10, 4))  # one-off imports and price lookup
        raw: list[float] = []
        harness: list[float] = []
        cpu = {"raw": [], "harness": []}
        for _ in range(args.rounds):
            for name, fn, out in (("raw", raw_round, raw), ("harness", harness_round, harness)):
                c0 = time.process_time()
                out.append(asyncio.run(fn(url, args.requests, args.concurrency)))
                cpu[name].append((time.process_time() - c0) / args.requests * 1e3)
        ideal = args.concurrency / args.delay
        best_raw, best_harness = max(raw), max(harness)
        print(f"requests={args.requests} concurrency={args.concurrency} delay={args.delay}s")
        print(f"ideal        {ideal:8.0f} req/s")
        print(f"raw aiohttp  {best_raw:8.0f} req/s   rounds: {', '.join(f'{r:.0f}' for r in raw)}")
        print(
            f"harness      {best_harness:8.0f} req/s   rounds: {', '.join(f'{r:.0f}' for r in harness)}"
        )
        print(
            f"client CPU per request: raw {min(cpu['raw']):.3f} ms, "
            f"harness {min(cpu['harness']):.3f} ms"
        )
        ratio = best_harness / best_raw
        print(
            f"ratio harness/raw = {ratio:.2f}  (target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
