"""Benchmark: how `tts-bench report` grows with the number of items.

Synthesizes runs of 1,000, 10,000 and 100,000 items (`report.synthetic`: 4 configs — single,
cot, a 9-sample self-consistency pool, a larger model —, 200-character outputs, every call's
text kept), then runs `tts-bench report RUN --resamples 10000` in a child process per size
and reads its wall time, CPU time (user + system) and peak RSS from `os.wait4`, and the size
of report.html (plus the explorer's sidecar chunks, if any). Prints each figure per size and
the per-item slopes between consecutive sizes (the growth a larger run pays per item).

Targets: report CPU ≤ 1 s per 1,000 items; peak RSS growing ≤ 20 KB per item; report.html
sub-linear in the items once the explorer pages.
Run: .venv/bin/python benchmarks/report_scale.py [--sizes 1000 10000 100000] [--configs 4]
     [--keep DIR] (reuses runs already synthesized in DIR)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_TARGET = 1.0  # s of report CPU per 1,000 items (the slope between sizes)


def synthesize(run_dir: Path, items: int, configs: int, text_chars: int) -> float:
    """Write the run unless a complete one is there; seconds spent writing."""
    from tts_bench.report.synthetic import write_synthetic_run

    if (run_dir / "manifest.json").exists():
        return 0.0
    t = time.perf_counter()
    write_synthetic_run(run_dir, items=items, configs=configs, text_chars=text_chars)
    return time.perf_counter() - t


def measure(run_dir: Path, resamples: int) -> dict[str, float]:
    """One `report` in a child process: wall, CPU, peak RSS (MB) and output sizes (MB)."""
    for name in ("summary.json", "report.html", "summary.md"):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "report-items", ignore_errors=True)
    cmd = [sys.executable, "-m", "tts_bench.cli", "report", str(run_dir)]
    cmd += ["--resamples", str(resamples)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"report failed ({proc.returncode}): {err.strip()[-2000:]}")
    side = run_dir / "report-items"
    sidecar = sum(p.stat().st_size for p in side.iterdir()) if side.is_dir() else 0
    return {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "rss_mb": ru.ru_maxrss / 1024,  # KB on Linux
        "html_mb": (run_dir / "report.html").stat().st_size / 1e6,
        "sidecar_mb": sidecar / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--configs", type=int, default=4, help="configs of report.synthetic (2..8)")
    ap.add_argument("--text-chars", type=int, default=200)
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="keep (and reuse) the synthetic runs here")
    args = ap.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="report-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for n in sorted(args.sizes):
            run_dir = base / f"items-{n}-c{args.configs}-t{args.text_chars}"
            gen = synthesize(run_dir, n, args.configs, args.text_chars)
            m = measure(run_dir, args.resamples)
            disk = sum((run_dir / f).stat().st_size for f in ("records.jsonl", "calls.jsonl"))
            rows.append((n, m))
            print(
                f"{n:>7} items ({disk / 1e6:.0f} MB of records and calls"
                + (f", synthesized in {gen:.0f} s" if gen else "")
                + f"): wall {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s "
                f"({1000 * m['cpu_s'] / n:.2f} s per 1,000 items), peak RSS {m['rss_mb']:.0f} MB, "
                f"report.html {m['html_mb']:.1f} MB"
                + (f" + {m['sidecar_mb']:.1f} MB of explorer chunks" if m["sidecar_mb"] else ""),
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    for (n0, a), (n1, b) in zip(rows, rows[1:], strict=False):
        dn = n1 - n0
        cpu = 1000 * (b["cpu_s"] - a["cpu_s"]) / dn
        rss = 1024 * (b["rss_mb"] - a["rss_mb"]) / dn
        print(
            f"slope {n0:,} → {n1:,} items: CPU {cpu:.2f} s per 1,000 items "
            f"({cpu / CPU_TARGET:.2f}× the target of {CPU_TARGET:g} s), peak RSS {rss:.1f} KB "
            f"per item, report.html {1e3 * (b['html_mb'] - a['html_mb']) / dn:.2f} KB per item"
        )


if __name__ == "__main__":
    main()
