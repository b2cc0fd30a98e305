"""Check: does this checkout's `tts-bench report` write the same files as another revision's?

For speed work on the report that must not move a figure. The run's manifest, records and
calls are copied twice; `tts-bench report COPY --resamples N` runs on one copy with this
checkout's code and on the other with the code of `--against` (a git revision, exported with
`git archive`); then summary.json, summary.md, recommended-policy.yaml, report.html (its
timestamps masked) and every `report-items/` page are compared byte for byte. Prints the CPU
time of each side and IDENTICAL, or the first differing lines; exits 1 on a difference.
Run: .venv/bin/python benchmarks/report_same.py RUN_DIR [--against REV] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("summary.json", "summary.md", "recommended-policy.yaml", "report.html")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT?[ ]?\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d| UTC)?")


def report(code: Path, src: Path, out: Path, resamples: int) -> float:
    """`tts-bench report` with the package under `code` on a copy of src; its CPU seconds."""
    out.mkdir(parents=True)
    for name in ("manifest.json", "records.jsonl", "calls.jsonl"):
        if (src / name).exists():
            shutil.copy2(src / name, out / name)
    cmd = [sys.executable, "-m", "tts_bench.cli", "report", str(out), "--resamples", str(resamples)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.Popen(
        cmd, cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, ru = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"report with {code} failed: {err.strip()[-2000:]}")
    return ru.ru_utime + ru.ru_stime


def differences(a: Path, b: Path) -> list[str]:
    out = []
    for name in FILES:
        x, y = (p.read_text(encoding="utf-8") for p in (a / name, b / name))
        if name.endswith((".html", ".md")):
            x, y = STAMP.sub("<time>", x), STAMP.sub("<time>", y)
        if x != y:
            diff = difflib.unified_diff(
                x.splitlines(), y.splitlines(), name, name, n=0, lineterm=""
            )
            out += [line[:200] for line in list(diff)[:12]]
    pa, pb = a / "report-items", b / "report-items"
    na = sorted(p.name for p in pa.iterdir()) if pa.is_dir() else []
    nb = sorted(p.name for p in pb.iterdir()) if pb.is_dir() else []
    if na != nb:
        out.append(f"report-items/: {len(na)} pages against {len(nb)}")
    out += [f"report-items/{n} differs" for n in na if n in nb and not _same(pa / n, pb / n)]
    return out


def _same(x: Path, y: Path) -> bool:
    return x.read_bytes() == y.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--against", default="HEAD", help="git revision to compare with")
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="report-same-"))
    try:
        old = tmp / "code"
        old.mkdir()
        tar = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.against, "tts_bench"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=tar, check=True)
        cpu_old = report(old, args.run_dir, tmp / "old" / "run", args.resamples)
        cpu_new = report(ROOT, args.run_dir, tmp / "new" / "run", args.resamples)
        print(f"CPU: {args.against} {cpu_old:.1f} s, this checkout {cpu_new:.1f} s")
        diff = differences(tmp / "old" / "run", tmp / "new" / "run")
        print("IDENTICAL" if not diff else "\n".join(diff))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    raise SystemExit(1 if diff else 0)


if __name__ == "__main__":
    main()
