"""`sim serve` in a child process, for benchmarks and tests that need a real process (one
they can kill, or that keeps the server's CPU off the caller's)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def spawn_sim_serve(*options: str) -> tuple[subprocess.Popen, str]:
    """Start `tts-bench sim serve --port 0 OPTIONS...` and return the process and its base
    URL (`http://127.0.0.1:PORT/v1`) once it listens; raises RuntimeError if it does not
    start. The caller stops it (`proc.terminate()` / `kill()`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_bench.cli", "sim", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"(http://\S+/v1)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"sim serve did not start: {line!r}")
    return proc, found.group(1)
