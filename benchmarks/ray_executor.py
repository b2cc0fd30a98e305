"""Wall time of one latency-bound run on 1, 2 and 4 Ray workers, side by side in one go.

The in-process simulator really waits `sim_time_scale` × its simulated latency per call, so
the run is bound by how many calls are in flight: `limits.concurrency` per process (the
local executor, and each Ray worker). One local Ray instance serves every Ray run (its
start-up is reported apart); each Ray run's wall time includes starting its worker processes,
shown apart too. No response cache, so every run makes every call. Prints one Markdown row
per executor, the speed-up against one Ray worker once the workers have started, and checks
that every run has the same records (answers, costs, tokens).

    .venv/bin/python benchmarks/ray_executor.py [--items 96] [--scale 1.0] [--concurrency 2] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

FIELDS = ("answer", "correct", "cost_usd", "input_tokens", "output_tokens")


def suite(items: int, scale: float, concurrency: int) -> Any:
    """shards.py's latency-bound suite (one place for both benchmarks), named for this one."""
    from shards import suite as shard_suite  # benchmarks/ is on sys.path when run as a script

    from tts_bench.suite import Suite

    data = shard_suite(items, scale, concurrency)
    return Suite.model_validate({**data, "name": "ray-bench"})


def timed(s: Any, out: Path, executor: Any) -> tuple[float, Any]:
    from tts_bench.runner import Runner

    runner = Runner(s, out_dir=out, use_cache=False, preflight=False, executor=executor)
    start = time.perf_counter()
    result = runner.run()
    wall = time.perf_counter() - start
    assert result.status == "complete", result.error
    return wall, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--scale", type=float, default=1.0, help="sim_time_scale")
    ap.add_argument("--concurrency", type=int, default=2, help="limits.concurrency")
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()

    import ray

    from tts_bench.run.executors import LocalExecutor, make_executor

    s = suite(args.items, args.scale, args.concurrency)
    start = time.perf_counter()
    ray.init(include_dashboard=False, logging_level=logging.WARNING)
    started = time.perf_counter() - start
    out = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    rows: list[tuple[str, float, float, Any]] = []
    wall, res = timed(s, out / "local", LocalExecutor())
    rows.append(("local", wall, 0.0, res))
    for k in (int(x) for x in args.workers.split(",")):
        ex = make_executor("ray", workers=k)
        wall, res = timed(s, out / f"ray{k}", ex)
        rows.append((f"ray, {k} worker{'s' if k > 1 else ''}", wall, ex.startup_s, res))
    ray.shutdown()

    def key(res: Any) -> dict[Any, tuple]:
        return {(r["item_id"], r["config"]): tuple(r[f] for f in FIELDS) for r in res.records}

    same = all(key(r) == key(rows[0][3]) for *_, r in rows)
    base = rows[1][1] - rows[1][2]
    pairs = len(rows[0][3].records)
    print(
        f"{args.items} items x 1 config, sim_time_scale {args.scale}, concurrency "
        f"{args.concurrency} per process; Ray start-up {started:.1f} s (not counted); "
        f"records identical across executors: {same}"
    )
    print(
        "| executor | wall s | workers' start-up s | pairs after start-up s | pairs/s "
        "| speed-up vs 1 Ray worker (after start-up) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, up, _ in rows:
        run = wall - up
        print(
            f"| {name} | {wall:.2f} | {up:.2f} | {run:.2f} | {pairs / run:.1f} "
            f"| {base / run:.2f}x |"
        )


if __name__ == "__main__":
    main()
