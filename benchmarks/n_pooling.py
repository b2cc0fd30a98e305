"""A pool in one request: self-consistency against `sim serve`, one request per sample
against one request of `n` per pool, in one run.

    .venv/bin/python benchmarks/n_pooling.py [--items 200] [--n 16] [--time-scale 0.05]
                                             [--concurrency 32]

Starts `tts-bench sim serve --time-scale S` in a subprocess (its own CPU), then runs the demo
suite's arithmetic items (`--items`, stratified) with one config, self-consistency with
`n` samples at temperature 0.7 on `openai/sim-small` through the direct transport, twice
without the response cache: `pool_request: separate`, then `pool_request: n`. Prints, per
mode: requests the server received (its /health count), input and output tokens, cost,
wall time, accuracy (majority vote of n) and mean sample accuracy, then whether every
sample index got the same answer in both runs (it must: the seeded simulator answers
choice i of a request starting at s as it answers sample s + i alone).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench import runner  # noqa: E402
from tts_bench.sim.spawn import spawn_sim_serve  # noqa: E402
from tts_bench.suite import parse, read_yaml  # noqa: E402


def start_server(time_scale: float) -> tuple[subprocess.Popen, str]:
    return spawn_sim_serve("--time-scale", str(time_scale))


def requests_seen(base: str) -> int:
    with urllib.request.urlopen(base.removesuffix("/v1") + "/health", timeout=10) as resp:
        return int(json.load(resp)["requests"])


def suite(base: str, mode: str, items: int, n: int, concurrency: int) -> dict[str, Any]:
    data = read_yaml(ROOT / "suites" / "demo.yaml")
    data["dataset"]["sample"]["size"] = items
    data["baseline"] = "sc"
    data["configs"] = [{"name": "sc", "strategy": "self_consistency", "n": n, "temperature": 0.7}]
    data["defaults"] = {"model": "openai/sim-small", "api_base": base, "max_tokens": 512,
                        "pool_request": mode}  # fmt: skip
    data["limits"] = {"concurrency": concurrency, "timeout_s": 60, "retries": 2}
    data["gates"] = []
    return data


def one_run(base: str, out: Path, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    before = requests_seen(base)
    started = time.perf_counter()
    result = runner.run(
        parse(suite(base, mode, args.items, args.n, args.concurrency)),
        out_dir=out, run_id=mode, use_cache=False, preflight=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if result.status != "complete":
        raise SystemExit(f"{mode}: run ended {result.status}: {result.error}")
    records = sorted(result.records, key=lambda r: r["item_id"])
    samples = [s for r in records for s in r["samples"]]
    return {
        "mode": mode,
        "requests": requests_seen(base) - before,
        "input": sum(r["input_tokens"] for r in records),
        "output": sum(r["output_tokens"] + r["reasoning_tokens"] for r in records),
        "cost": sum(r["cost_usd"] for r in records),
        "wall": wall,
        "accuracy": sum(bool(r["correct"]) for r in records) / len(records),
        "sample_accuracy": sum(bool(s["correct"]) for s in samples) / len(samples),
        "answers": [[s["answer"] for s in r["samples"]] for r in records],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--time-scale", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    proc, base = start_server(args.time_scale)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [one_run(base, Path(tmp), m, args) for m in ("separate", "n")]
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"self-consistency n={args.n}, {args.items} items, sim serve --time-scale "
          f"{args.time_scale:g}, concurrency {args.concurrency}")  # fmt: skip
    print(f"{'pool_request':12} {'requests':>8} {'input tok':>10} {'output tok':>10} "
          f"{'cost $':>9} {'wall s':>7} {'maj@n':>6} {'sample acc':>10}")  # fmt: skip
    for r in rows:
        print(f"{r['mode']:12} {r['requests']:8d} {r['input']:10d} {r['output']:10d} "
              f"{r['cost']:9.5f} {r['wall']:7.2f} {r['accuracy']:6.3f} "
              f"{r['sample_accuracy']:10.4f}")  # fmt: skip
    sep, pooled = rows
    print(f"n / separate: requests {pooled['requests'] / sep['requests']:.4f}, "
          f"cost {pooled['cost'] / sep['cost']:.3f}, wall {pooled['wall'] / sep['wall']:.2f}")  # fmt: skip
    same = sep["answers"] == pooled["answers"]
    print(f"same answer for every sample index: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
