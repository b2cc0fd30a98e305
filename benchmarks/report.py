"""Benchmark: the HTML report of a 1,000-item × 8-config run (16-sample pools not needed here:
two pooled configs of 9 and 8 samples, 400-character outputs, every call's text kept).

Measures: summary.json time, report.html render time and size, the two together from one
read of the run (`write_all`, what `tts-bench report` does), and, in headless chromium,
the page's load time (navigation start to the end of the load event, which includes parsing
the item data and rendering the explorer's first page) and the time one filter takes.
Run: .venv/bin/python benchmarks/report.py [--items 1000] [--configs 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--configs", type=int, default=8)
    ap.add_argument("--loads", type=int, default=3, help="page loads to time (median)")
    args = ap.parse_args()

    from tts_bench.analysis import write_summary
    from tts_bench.report import write_all, write_report
    from tts_bench.report.synthetic import write_synthetic_run

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = write_synthetic_run(
            Path(tmp) / "big", items=args.items, configs=args.configs, text_chars=400
        )
        t = time.perf_counter()
        write_summary(run_dir)
        t_summary = time.perf_counter() - t
        t = time.perf_counter()
        html = write_report(run_dir)
        t_report = time.perf_counter() - t
        size = html.stat().st_size
        t = time.perf_counter()
        write_all(run_dir)
        t_all = time.perf_counter() - t
        print(
            f"run: {args.items} items x {args.configs} configs; records.jsonl "
            f"{(run_dir / 'records.jsonl').stat().st_size / 1e6:.1f} MB, calls.jsonl "
            f"{(run_dir / 'calls.jsonl').stat().st_size / 1e6:.1f} MB"
        )
        print(f"summary.json: {t_summary:.2f} s")
        print(f"report.html: {t_report:.2f} s to write, {size / 1e6:.2f} MB")
        print(f"both from one read (write_all, as `tts-bench report`): {t_all:.2f} s")

        from browser import chromium_path, launch, load

        if chromium_path() is None:
            print("chromium not found: browser timings skipped")
            return
        loads, filters = [], []
        with launch() as browser:
            for _ in range(args.loads):
                page = load(browser, html)
                loads.append(
                    page.evaluate(
                        "() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return n.loadEventEnd - n.startTime; }"
                    )
                    / 1000
                )
                filters.append(
                    page.evaluate(
                        "() => { const s = document.getElementById('f-label'); const t0 = performance.now();"
                        " s.value = 'any'; s.dispatchEvent(new Event('change'));"
                        " return performance.now() - t0; }"
                    )
                    / 1000
                )
                page.close()
        loads.sort()
        filters.sort()
        print(
            f"browser load (navigation start to load end, median of {len(loads)}): "
            f"{loads[len(loads) // 2]:.2f} s (all: {', '.join(f'{x:.2f}' for x in loads)})"
        )
        print(f"filter 'any failure' over all items: {filters[len(filters) // 2] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
