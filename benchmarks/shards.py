"""Wall time of one latency-bound run as 1 process against n shards in n parallel processes,
side by side in one go, and of merging the shards.

The in-process simulator really waits `sim_time_scale` × its simulated latency per call and
each process keeps at most `limits.concurrency` calls in flight (as a per-key rate limit or a
CI runner would), so the run is bound by latency and n processes should take about 1/n of the
time, plus each process's start-up. Each mode is a `tts-bench run` subprocess (`--shard i/n`
for the shards, all started at once); no response cache, so every run makes every call.
Prints one Markdown row per mode and checks that the merged run has the unsplit run's
records (answers, correctness, costs, tokens).

    .venv/bin/python benchmarks/shards.py [--items 120] [--scale 1.0] [--concurrency 2] [--shards 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

FIELDS = ("answer", "correct", "cost_usd", "input_tokens", "output_tokens", "latency_s")


def suite(items: int, scale: float, concurrency: int) -> dict:
    return {
        "name": "shard-bench",
        "seed": 0,
        "dataset": {
            "source": "builtin:arithmetic",
            "params": {"size": items, "seed": 7},
            "fields": {
                "id": "id",
                "input": "question",
                "target": "answer",
                "strata": ["difficulty"],
            },
        },
        "prompt": {"template": "{question}\nEnd with 'Final answer: <number>'."},
        "scorer": {"type": "numeric"},
        "defaults": {"model": "sim/small", "temperature": 0.0, "sim_time_scale": scale},
        "limits": {"concurrency": concurrency},
        "configs": [{"name": "single", "strategy": "single"}],
    }


def cli(*args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tts_bench.cli", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(p.args)} exited {p.returncode}: {err or out}")


def timed(procs: list[subprocess.Popen]) -> float:
    start = time.perf_counter()
    wait(procs)
    return time.perf_counter() - start


def records(run_dir: Path) -> dict[tuple[str, str], tuple]:
    rows = (json.loads(line) for line in (run_dir / "records.jsonl").open())
    return {(r["item_id"], r["config"]): tuple(r[f] for f in FIELDS) for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=120)
    ap.add_argument("--scale", type=float, default=1.0, help="sim_time_scale")
    ap.add_argument("--concurrency", type=int, default=2, help="limits.concurrency")
    ap.add_argument("--shards", type=int, default=3)
    args = ap.parse_args()

    out = Path(tempfile.mkdtemp(prefix="shard-bench-"))
    path = out / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(args.items, args.scale, args.concurrency)))
    common = ["--no-cache", "--no-preflight", "--no-report", "-q", "--out", str(out)]

    start = time.perf_counter()
    wait([cli("--version")])
    startup = time.perf_counter() - start
    start = time.perf_counter()
    wait([cli("run", str(path), "--run-id", "whole", *common)])
    whole = time.perf_counter() - start
    n = args.shards
    start = time.perf_counter()
    wait(
        [
            cli("run", str(path), "--shard", f"{i}/{n}", "--run-id", f"s{i}", *common)
            for i in range(1, n + 1)
        ]
    )
    sharded = time.perf_counter() - start
    parts = [str(out / f"s{i}") for i in range(1, n + 1)]
    start = time.perf_counter()
    wait([cli("merge", *parts, "-o", str(out / "merged"), "--no-report")])
    merged = time.perf_counter() - start
    start = time.perf_counter()
    wait([cli("report", str(out / "merged"))])
    report = time.perf_counter() - start

    same = records(out / "merged") == records(out / "whole")
    calls = len(records(out / "whole"))
    print(
        f"{args.items} items, {calls} calls, sim_time_scale {args.scale}, concurrency {args.concurrency} per process; process start-up {startup:.2f} s\n"
    )
    print("| mode | wall s | speed-up |")
    print("|---|---:|---:|")
    print(f"| 1 process | {whole:.2f} | 1.00× |")
    print(f"| {n} shards, {n} processes at once | {sharded:.2f} | {whole / sharded:.2f}× |")
    print(f"| merge of the {n} shards | {merged:.2f} | |")
    print(f"| report of the merged run | {report:.2f} | |")
    print(f"\nmerged records equal the unsplit run's ({', '.join(FIELDS)}): {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
