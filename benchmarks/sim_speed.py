"""Simulator speed: CPU per simulate() call, and the wall of a demo-shaped `tts-bench run`.

    .venv/bin/python benchmarks/sim_speed.py [--against REV] [--rounds 5] [--run-items 200]

Workloads, each timed in a fresh process (the simulator memoises item-level draws and
prompt parsing, so a second pass in one process would flatter it), one pass each:
- `demo`: the calls of `suites/demo.yaml` (200 arithmetic items: single, cot,
  self-consistency n=9 at T=0.7, sim/large), straight into simulate().
- `mixed`: every built-in task (arithmetic, knowledge, contracts, tickets; 50 items each:
  single, cot, 5 samples at T=0.7, sim/large, sim/reasoner at high effort) and, on the
  arithmetic items, the judge, critique, refine, classify, next-step and value roles.
- `wide`: 5,000 arithmetic items, two calls each (T=0 and T=0.7), so every memo is full and
  evicting: the steady state of a long run, with the worker's peak RSS.
It prints µs of process CPU per call and calls/s (best of `--rounds`, rounds interleaved).
With `--against REV` (a git revision, e.g. the commit before a change) the same workloads
run on that revision's `tts_bench/` too, interleaved, and the before/after ratio is printed.
`--run-items N` also times `tts-bench run` of the demo suite over N builtin arithmetic items
(wall and CPU, summary and report included; 0 skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("demo", "mixed", "wide")


def _messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _demo() -> list[tuple]:
    from tts_bench import prompts
    from tts_bench.data.builtin import generate

    out = []
    for row in generate("arithmetic", {"size": 600, "seed": 7})[:200]:
        user = row["question"] + "\nEnd with 'Final answer: <number>'."
        base = _messages("You are a careful assistant.", user)
        cot = _messages("You are a careful assistant.", f"{user}\n{prompts.COT_INSTRUCTION}")
        out.append(("sim/small", base, 0.0, 0, None))
        out.append(("sim/small", cot, 0.0, 0, None))
        out += [("sim/small", base, 0.7, i, None) for i in range(9)]
        out.append(("sim/large", base, 0.0, 0, None))
    return out


TASKS = {
    "arithmetic": ({"size": 300, "seed": 11}, "Final answer: <number>"),
    "knowledge": ({"size": 200, "seed": 3}, "Final answer: <letter>"),
    "contracts": ({"size": 100, "seed": 5}, "Final answer: <comma-separated clause numbers>"),
    "tickets": ({"size": 100, "seed": 2}, "Final answer: <category>"),
}


def _mixed() -> list[tuple]:
    from tts_bench import prompts
    from tts_bench.data.builtin import generate

    out = []
    for task, (params, form) in TASKS.items():
        for row in generate(task, params)[:50]:
            problem = f"{row['question']}\nEnd with '{form}'."
            base = _messages("You are a careful assistant.", problem)
            cot = _messages("You are a careful assistant.", f"{problem}\n{prompts.COT_INSTRUCTION}")
            out.append(("sim/small", base, 0.0, 0, None))
            out.append(("sim/small", cot, 0.0, 0, None))
            out += [("sim/small", base, 0.7, i, None) for i in range(5)]
            out.append(("sim/large", base, 0.0, 0, None))
            out.append(("sim/reasoner", base, 0.0, 0, {"reasoning_effort": "high"}))
            if task != "arithmetic":
                continue
            answer = f"Start: 1.\nStep 1: It adds 2: 1 + 2 = 3.\nFinal answer: {row['answer']}"
            roles = [
                prompts.judge(problem, answer),
                prompts.critique(problem, answer),
                prompts.refine(problem, answer, "Step 1 is wrong."),
                prompts.classify(problem),
                prompts.next_step(problem, ""),
                prompts.value(problem, "Step 1: It adds 2: 1 + 2 = 3."),
            ]
            out += [("sim/small", [{"role": "user", "content": r}], 0.7, 0, None) for r in roles]
    return out


def _wide() -> list[tuple]:
    from tts_bench.data.builtin import generate

    out = []
    for row in generate("arithmetic", {"size": 5000, "seed": 13}):
        base = _messages(
            "You are a careful assistant.", row["question"] + "\nEnd with 'Final answer: <number>'."
        )
        out.append(("sim/small", base, 0.0, 0, None))
        out.append(("sim/small", base, 0.7, 1, None))
    return out


def worker(name: str) -> None:
    """One timed pass over a workload in this (fresh) process; prints JSON."""
    from tts_bench.sim import simulate

    calls = {"demo": _demo, "mixed": _mixed, "wide": _wide}[name]()
    start = time.process_time()
    for model, messages, temperature, sample, params in calls:
        simulate(
            model,
            messages,
            temperature=temperature,
            max_tokens=8192,
            sample_index=sample,
            params=params,
        )
    cpu = time.process_time() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"calls": len(calls), "cpu_s": cpu, "rss_mb": rss_mb}))


def _tree(rev: str, tmp: Path) -> Path:
    """`tts_bench/` as of git revision `rev`, extracted under `tmp`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "tts_bench"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    dest = tmp / rev.replace("/", "_")
    dest.mkdir()
    tar_path = tmp / "tree.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _once(src: Path, name: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name],
        env=env,
        cwd=src,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout)


def _demo_run(src: Path, items: int, tmp: Path) -> tuple[float, float]:
    """(wall s, CPU s) of `tts-bench run` on the demo suite over `items` arithmetic items."""
    import yaml

    sys.path.insert(0, str(ROOT))  # this checkout's suite reader, whatever tree is timed
    from tts_bench.suite import read_yaml  # YAML 1.2: `on:` is a key, not a boolean

    data = read_yaml(ROOT / "suites" / "demo.yaml")
    if items != 200:
        data["dataset"]["params"] = {"size": items, "seed": 7}
        data["dataset"].pop("sample", None)
    data["limits"]["max_cost_usd"] = 1e6
    suite = tmp / f"demo-{items}.yaml"
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tempfile.mkdtemp(dir=tmp)
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tts_bench.cli", "run", str(suite), "--out", out, "--quiet"],
        env=env,
        cwd=src,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="git revision to compare with (its tts_bench/)")
    ap.add_argument("--rounds", type=int, default=5, help="fresh processes per workload")
    ap.add_argument("--run-items", type=int, default=200, help="demo-shaped run size (0: skip)")
    ap.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"now": ROOT}
        if args.against:
            trees[args.against] = _tree(args.against, tmp)
        best: dict[tuple[str, str], list[float]] = {}
        n_calls: dict[str, int] = {}
        rss: dict[tuple[str, str], float] = {}
        for _ in range(args.rounds):  # interleaved, so load on the machine hits both alike
            for work in WORKLOADS:
                for label, src in trees.items():
                    got = _once(src, work)
                    n_calls[work] = got["calls"]
                    rss[(label, work)] = max(rss.get((label, work), 0.0), got["rss_mb"])
                    best.setdefault((label, work), []).append(got["cpu_s"] / got["calls"])
        print(f"simulate() CPU per call, best of {args.rounds} fresh processes (median):")
        for work in WORKLOADS:
            for label in trees:
                per = best[(label, work)]
                print(
                    f"  {work:6s} {label:>12s}: {min(per) * 1e6:7.0f} µs/call "
                    f"({statistics.median(per) * 1e6:.0f}), {1 / min(per):8.0f} calls/s, "
                    f"{n_calls[work]} calls, peak RSS {rss[(label, work)]:.0f} MB"
                )
            if args.against:
                ratio = min(best[(args.against, work)]) / min(best[("now", work)])
                print(f"  {work:6s} {'speed-up':>12s}: {ratio:.2f}x less CPU per call")
        if args.run_items:
            print(f"tts-bench run, demo suite over {args.run_items} items (summary, report):")
            for label, src in trees.items():
                wall, cpu = _demo_run(src, args.run_items, tmp)
                print(f"  {label:>12s}: {wall:6.1f} s wall, {cpu:6.1f} s CPU")


if __name__ == "__main__":
    main()
