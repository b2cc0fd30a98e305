"""Start-up: time from `tts-bench run` starting to the server receiving its first request.

    .venv/bin/python benchmarks/startup.py [--rounds 7] [--items 20]

Starts the simulator server (`tts_bench.sim.server_thread.ServerThread`, answering at once)
in this process, writes a suite of `--items` items in a local JSONL file with one
single-call config on `openai/sim-small` at the server's `api_base` (no `pricing:`), and runs
`python -m tts_bench.cli run SUITE --no-report --quiet --no-cache` as a subprocess. The
server stamps each request's arrival with `time.monotonic()`, the same clock this process
reads just before starting the subprocess, so the figure is process start to first request.
Each round also times `python -c pass` (interpreter start-up, the floor) and a fresh process
that looks up one price in litellm's price table (`openai/gpt-4o-mini`), interleaved so
that load on the machine hits all three alike. Prints the medians, the best rounds and the
ratios to `python -c pass`. Target: first request <= 1.0 s after start.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench.sim.server_thread import ServerThread  # noqa: E402

PRICE_LOOKUP = (
    "from tts_bench.llm.pricing import PriceTable; "
    "assert PriceTable().rate('openai/gpt-4o-mini') is not None"
)


def write_suite(folder: Path, url: str, items: int) -> Path:
    """A suite of `items` arithmetic questions in a local JSONL file, one config."""
    with (folder / "items.jsonl").open("w") as f:
        for i in range(items):
            question = f"Tom has {i} apples and buys 4 more. How many apples does he have?"
            f.write(json.dumps({"id": f"q{i}", "question": question, "answer": i + 4}) + "\n")
    suite = {
        "name": "startup",
        "seed": 0,
        "dataset": {"source": str(folder / "items.jsonl"), "fields": {"input": "question"}},
        "prompt": {"template": "{question}\nEnd with 'Final answer: <number>'."},
        "scorer": {"type": "numeric"},
        "defaults": {"model": "openai/sim-small", "api_base": url, "max_tokens": 256},
        "limits": {"concurrency": 8, "timeout_s": 30, "retries": 1},
        "baseline": "single",
        "configs": [{"name": "single", "strategy": "single"}],
    }
    path = folder / "suite.yaml"
    path.write_text(json.dumps(suite, indent=1))  # JSON is YAML
    return path


def time_process(argv: list[str]) -> float:
    """Wall seconds from start to exit of one process (which must succeed)."""
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - started


def time_first_request(srv: ServerThread, suite: Path, out: Path, items: int) -> float:
    """Seconds from starting `tts-bench run` to the server's first request from it."""
    seen = len(srv.log)
    argv = [sys.executable, "-m", "tts_bench.cli", "run", str(suite), "--out", str(out)]
    started = time.monotonic()
    done = subprocess.run(
        [*argv, "--no-report", "--quiet", "--no-cache"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"run failed: {done.stderr.strip()}")
    hits = srv.log[seen:]
    if len(hits) < items:
        raise SystemExit(f"the server saw {len(hits)} requests, expected {items}")
    return min(h.at for h in hits) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--items", type=int, default=20, help="items in the suite (default 20)")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"python -c pass": [], "price look-up": [], "run": []}
    with (
        tempfile.TemporaryDirectory(prefix="tts-startup-") as tmp,
        ServerThread(time_scale=0.0) as srv,
    ):
        suite = write_suite(Path(tmp), srv.url, args.items)
        time_first_request(srv, suite, Path(tmp) / "runs", args.items)  # warm the file cache
        for _ in range(args.rounds):
            figures["python -c pass"].append(time_process([sys.executable, "-c", "pass"]))
            figures["price look-up"].append(time_process([sys.executable, "-c", PRICE_LOOKUP]))
            figures["run"].append(time_first_request(srv, suite, Path(tmp) / "runs", args.items))
    floor = statistics.median(figures["python -c pass"])
    print(f"{args.rounds} interleaved rounds, {args.items}-item HTTP suite, median (best):")
    labels = {
        "python -c pass": "python -c pass (start to exit)",
        "price look-up": "fresh process, one price look-up",
        "run": "tts-bench run, start to first request",
    }
    for key, label in labels.items():
        med, best = statistics.median(figures[key]), min(figures[key])
        print(f"  {label:40s} {med:6.3f} s ({best:.3f} s)  {med / floor:5.1f}x python -c pass")
    first = statistics.median(figures["run"])
    verdict = "met" if first <= 1.0 else "NOT met"
    print(f"target: first request <= 1.0 s after start: {verdict} ({first:.3f} s)")


if __name__ == "__main__":
    main()
