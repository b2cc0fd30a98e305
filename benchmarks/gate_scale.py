"""Benchmark: how `tts-bench gate` grows with the number of items.

For each size, two synthetic runs of the same items (`report.synthetic`, seeds 0 and 1, the
shape of `report_scale.py`; the suite's analysis set to `--resamples`) are gated with one
rules file (accuracy and P95 latency per config, accuracy delta and cost ratio) three ways,
each in a child process (wall, CPU = user + system, peak RSS from `os.wait4`):

- `fresh`: summary.json is current, so gate reads it and computes nothing;
- `recompute`: no summary.json, so gate computes the summary in memory (the whole analysis);
- `against`: `--against` the other run, summary.json current: both runs' records read and
  every config paired by item (`analysis.crossrun`, a bootstrap over the common items).

Prints each figure per size and the per-item slopes between consecutive sizes.
Run: .venv/bin/python benchmarks/gate_scale.py [--sizes 1000 10000 100000] [--keep DIR]
     [--resamples 10000] (DIR as report_scale.py's: runs already there are reused)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = """\
- {metric: accuracy, min: 0.3}
- {metric: p95_latency_s, max: 60}
- {metric: accuracy_delta, min: -0.2}
- {metric: cost_ratio, max: 20}
"""
MODES = ("fresh", "recompute", "against")


def child(cmd: list[str]) -> dict[str, float]:
    """Run cmd; wall, CPU and peak RSS (MB). Exit 0 or 1 (a failed rule) both count."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd[2:5])} failed ({code}): {err.strip()[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}


def prepare(base: Path, n: int, seed: int, resamples: int) -> Path:
    """A run directory of n items (seed) whose suite analyses with `resamples`, and a current
    summary.json (written once, not timed)."""
    # report_scale.py's directory names: `--keep` shares the runs it made
    name = f"items-{n}-c4-t200" + (f"-seed{seed}" if seed else "")
    rd = base / name
    if not (rd / "manifest.json").exists():
        from tts_bench.report.synthetic import write_synthetic_run

        write_synthetic_run(rd, items=n, configs=4, seed=seed, text_chars=200)
    man = json.loads((rd / "manifest.json").read_text())
    analysis = man["suite"].setdefault("analysis", {})
    if analysis.get("resamples") != resamples:
        analysis["resamples"] = resamples
        (rd / "manifest.json").write_text(json.dumps(man, indent=2))
        (rd / "summary.json").unlink(missing_ok=True)
    if not (rd / "summary.json").exists() or (rd / "summary.json").stat().st_mtime < max(
        (rd / f).stat().st_mtime for f in ("manifest.json", "records.jsonl")
    ):
        code = "import sys; from tts_bench.analysis.summary import write; write(sys.argv[1])"
        subprocess.run([sys.executable, "-c", code, str(rd)], check=True)
    return rd


def gate(run: Path, other: Path, rules: Path, mode: str) -> dict[str, float]:
    cmd = [sys.executable, "-m", "tts_bench.cli", "gate", str(run), "--rules", str(rules)]
    if mode == "against":
        cmd += ["--against", str(other)]
    if mode != "recompute":
        return child(cmd)
    aside = run / "summary.json.aside"
    (run / "summary.json").rename(aside)
    try:
        return child(cmd)
    finally:
        aside.rename(run / "summary.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="keep (and reuse) the synthetic runs here")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="gate-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    rules = base / "gate-rules.yaml"
    rules.write_text(RULES)
    rows: list[tuple[int, dict[str, dict[str, float]]]] = []
    try:
        for n in sorted(args.sizes):
            t = time.perf_counter()
            a = prepare(base, n, 0, args.resamples)
            b = prepare(base, n, 1, args.resamples)
            got = {mode: gate(a, b, rules, mode) for mode in MODES}
            rows.append((n, got))
            print(
                f"{n:>7} items (prepared in {time.perf_counter() - t:.0f} s): "
                + "; ".join(
                    f"{mode} wall {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s, "
                    f"peak RSS {m['rss_mb']:.0f} MB"
                    for mode, m in got.items()
                ),
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    for (n0, a), (n1, b) in zip(rows, rows[1:], strict=False):
        dn = n1 - n0
        print(
            f"slope {n0:,} → {n1:,} items: "
            + "; ".join(
                f"{mode} CPU {1000 * (b[mode]['cpu_s'] - a[mode]['cpu_s']) / dn:.2f} s per "
                f"1,000 items, peak RSS {1024 * (b[mode]['rss_mb'] - a[mode]['rss_mb']) / dn:.1f} "
                "KB per item"
                for mode in MODES
            )
        )


if __name__ == "__main__":
    main()
