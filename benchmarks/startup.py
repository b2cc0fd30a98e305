"""Start-up: time from `tts-bench run` starting to the server receiving its first request.

    .venv/bin/python benchmarks/startup.py [--rounds 7] [--items 20]

Starts the simulator server (`tts_bench.sim.server_thread.ServerThread`, answering at once)
in this process, writes a suite of `--items` items in a local JSONL file with one
single-call config on `openai/sim-small` at the server's `api_base` (no `pricing:`), and runs
`python -m tts_bench.cli run SUITE --no-report --quiet --no-cache` as a subprocess. The
server stamps each request's arrival with `time.monotonic()`, the same clock this process
reads just before starting the subprocess, so the figure is process start to first request.
Compiled modules are cached (under a temporary PYTHONPYCACHEPREFIX, as an installed package
has them) unless `--no-bytecode-cache`. Each round also times `python -c pass` (interpreter start-up, the floor) and a fresh process
that looks up one price in litellm's price table (`openai/gpt-4o-mini`), interleaved so
that load on the machine hits all three alike, and the CPU seconds each spends (for the run:
up to its first connection, read by an audit hook in a second run of the same suite). CPU
moves far less than wall time with other load on the machine. Prints medians, best rounds
and the wall-time ratio to `python -c pass`. Target: first request <= 1.0 s after start.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def bytecode_env(folder: Path) -> None:
    """Let every process below cache compiled modules (under `folder`, not in the source
    tree), as an installed package has them: PYTHONDONTWRITEBYTECODE would recompile every
    module of tts-bench in every process."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")


def time_process(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds from start to exit of one process (which must succeed)."""
    cpu = _children_cpu()
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - started, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# The CLI run with an audit hook that writes the process's CPU seconds at its first connection
# to the server: CPU, unlike wall time, hardly moves with other load on the machine.
CPU_HOOK = """
import runpy, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
done = []
def hook(event, args):
    if event == "socket.connect" and not done and args[1][1:2] == (port,):
        done.append(True)
        with open(out, "w") as f:
            f.write(repr(time.process_time()))
sys.addaudithook(hook)
sys.argv = ["tts-bench", *sys.argv[3:]]
runpy.run_module("tts_bench.cli", run_name="__main__")
"""


def run_argv(suite: Path, out: Path) -> list[str]:
    return ["run", str(suite), "--out", str(out), "--no-report", "--quiet", "--no-cache"]


def time_first_request(srv: ServerThread, suite: Path, out: Path, items: int) -> float:
    """Seconds from starting `tts-bench run` to the server's first request from it."""
    seen = len(srv.log)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tts_bench.cli", *run_argv(suite, out)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"run failed: {done.stderr.strip()}")
    hits = srv.log[seen:]
    if len(hits) < items:
        raise SystemExit(f"the server saw {len(hits)} requests, expected {items}")
    return min(h.at for h in hits) - started


def cpu_to_first_request(srv: ServerThread, suite: Path, out: Path) -> float:
    """CPU seconds `tts-bench run` spends before its first connection to the server."""
    stamp = out / "cpu.txt"
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", CPU_HOOK, str(srv.port), str(stamp), *run_argv(suite, out)]
    subprocess.run(argv, check=True, capture_output=True)
    return float(stamp.read_text())


def price_table_ms() -> float:
    """Milliseconds to read and parse litellm's price table file (aliases expanded)."""
    from tts_bench.llm import pricing

    path = pricing.price_map_path()
    if path is None:
        return float("nan")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        pricing._expand_aliases(json.loads(path.read_bytes()))
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--items", type=int, default=20, help="items in the suite (default 20)")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE as set (every module compiled in every process)",
    )
    args = parser.parse_args()
    wall: dict[str, list[float]] = {"pass": [], "price": [], "run": []}
    cpu: dict[str, list[float]] = {"pass": [], "price": [], "run": []}
    with (
        tempfile.TemporaryDirectory(prefix="tts-startup-") as tmp,
        ServerThread(time_scale=0.0) as srv,
    ):
        suite, runs = write_suite(Path(tmp), srv.url, args.items), Path(tmp) / "runs"
        if not args.no_bytecode_cache:
            bytecode_env(Path(tmp))
        for _ in range(2):  # warm the file and bytecode caches
            time_first_request(srv, suite, runs, args.items)
            time_process([sys.executable, "-c", PRICE_LOOKUP])
        for _ in range(args.rounds):
            for key, argv in (("pass", ["-c", "pass"]), ("price", ["-c", PRICE_LOOKUP])):
                w, c = time_process([sys.executable, *argv])
                wall[key].append(w)
                cpu[key].append(c)
            wall["run"].append(time_first_request(srv, suite, runs, args.items))
            cpu["run"].append(cpu_to_first_request(srv, suite, runs))
    print(f"{args.rounds} interleaved rounds, {args.items}-item HTTP suite; median (best):")
    print(f"  {'':40s} {'wall s':>15s} {'CPU s':>15s}  wall / python -c pass")
    labels = {
        "pass": "python -c pass (start to exit)",
        "price": "fresh process, one price look-up",
        "run": "tts-bench run, start to first request",
    }
    floor = statistics.median(wall["pass"])
    for key, label in labels.items():
        w, c = statistics.median(wall[key]), statistics.median(cpu[key])
        cells = f"{w:6.3f} ({min(wall[key]):.3f}) {c:6.3f} ({min(cpu[key]):.3f})"
        print(f"  {label:40s} {cells}  {w / floor:5.1f}x")
    print(
        f"  litellm's price table read and parsed in-process: {price_table_ms():.0f} ms (best of 5)"
    )
    first = statistics.median(wall["run"])
    verdict = "met" if first <= 1.0 else "NOT met"
    print(f"target: first request <= 1.0 s after start: {verdict} (median {first:.3f} s)")


if __name__ == "__main__":
    main()
