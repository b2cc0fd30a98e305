"""Adaptive concurrency against a server-side rate limit: requests/min achieved and 429s.

    .venv/bin/python benchmarks/adaptive_concurrency.py [--rpm 600] [--items 400]
        [--concurrency 64] [--time-scale 1.0] [--retries 4] [--ignore-headers]
        [--transport direct|litellm]

Runs the same workload twice in one process, each against a fresh `sim serve --rpm R` (the
in-process ServerThread, answering 429 like OpenAI with x-ratelimit-* headers and
retry-after): a single-call config over `--items` arithmetic items on openai/sim-small
through the direct transport (or litellm's, `--transport litellm`), with `limits.concurrency` set too high for R (the steady
state needs about R/60 * latency calls in flight). Once with `limits.adaptive: true`, once
with `false` (a fixed concurrency). Prints side by side:

- rate/R: requests the server admitted per minute, over the span from the first request to
  the last, as a fraction of R (its bucket starts full, so a short run can pass 1.0);
- 429 %: of all requests the client sent, those answered 429;
- answered %: items whose call succeeded (the others still failed after `--retries`);
- wall: seconds for the run (preflight, scheduling and writing included).

Target: adaptive rate/R >= 0.90 with 429 % < 5; the fixed concurrency markedly worse.
`--ignore-headers` makes the client blind to the rate-limit headers (AIMD on 429s alone, as
with a provider that sends none).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench import runner  # noqa: E402
from tts_bench.sim.server import ServerThread  # noqa: E402
from tts_bench.suite import parse  # noqa: E402


def suite(args: argparse.Namespace, url: str, adaptive: bool) -> dict:
    return {
        "name": "adaptive-bench",
        "seed": 0,
        "dataset": {
            "source": "builtin:arithmetic",
            "params": {"size": args.items, "seed": 7},
            "fields": {"id": "id", "input": "question", "target": "answer"},
        },
        "prompt": {"template": "{question}\nEnd with 'Final answer: <number>'."},
        "scorer": {"type": "numeric", "tolerance": 1e-6},
        "defaults": {
            "model": "openai/sim-small",
            "api_base": url,
            "max_tokens": 512,
            "transport": args.transport,
        },
        "pricing": {"openai/sim-small": {"input": 0.15, "output": 0.6}},
        "limits": {
            "concurrency": args.concurrency,
            "timeout_s": 60,
            "retries": args.retries,
            "max_retry_wait_s": 30,
            "adaptive": adaptive,
        },
        "baseline": "single",
        "configs": [{"name": "single", "strategy": "single"}],
        "gates": [],
    }


def one_run(args: argparse.Namespace, adaptive: bool, out: Path) -> dict:
    with ServerThread(time_scale=args.time_scale, rpm=args.rpm) as srv:
        data = suite(args, srv.url, adaptive)
        t0 = time.perf_counter()
        result = runner.run(
            parse(data), out_dir=out, run_id=f"adaptive-{adaptive}", use_cache=False
        )
        wall = time.perf_counter() - t0
        hits = [h.at for h in srv.log]
    calls = [
        json.loads(line)
        for line in (out / f"adaptive-{adaptive}" / "calls.jsonl").read_text().splitlines()
    ]
    ok = sum(c["status"] == "ok" for c in calls)
    assert len(calls) == args.items
    refused = sum(c["retries"] for c in calls) + sum(c["status"] == "rate_limited" for c in calls)
    span = max(hits) - min(hits)
    return {
        "status": result.status,
        "rate_frac": (ok + 1) / span * 60 / args.rpm,  # + the preflight call
        "pct_429": 100 * refused / len(hits),
        "answered": 100 * ok / len(calls),
        "wall_s": wall,
        "requests": len(hits),
        "ok": ok,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rpm", type=int, default=600, help="the server's requests per minute")
    ap.add_argument("--items", type=int, default=400, help="items (one call each) per run")
    ap.add_argument("--concurrency", type=int, default=64, help="limits.concurrency (too high)")
    ap.add_argument("--time-scale", type=float, default=1.0, help="simulated latency factor")
    ap.add_argument("--retries", type=int, default=4, help="limits.retries")
    ap.add_argument("--ignore-headers", action="store_true", help="AIMD on 429s alone")
    ap.add_argument("--transport", choices=("direct", "litellm"), default="direct")
    args = ap.parse_args()
    if args.ignore_headers:
        import tts_bench.llm.client as client

        client.read_quota = lambda headers, **_: None
    with tempfile.TemporaryDirectory() as tmp:
        rows = {
            "adaptive": one_run(args, True, Path(tmp)),
            "fixed": one_run(args, False, Path(tmp)),
        }
    print(
        f"server --rpm {args.rpm}; {args.items} single calls; limits.concurrency "
        f"{args.concurrency}; time_scale {args.time_scale}; retries {args.retries}"
        + f"; {args.transport} transport"
        + ("; headers ignored" if args.ignore_headers else "")
    )
    print(f"{'':14}{'adaptive':>12}{'fixed':>12}")
    lines = [
        ("rate / R", "rate_frac", "{:.2f}"),
        ("429 %", "pct_429", "{:.1f}"),
        ("requests", "requests", "{}"),
        ("answered %", "answered", "{:.0f}"),
        ("wall s", "wall_s", "{:.1f}"),
        ("run status", "status", "{}"),
    ]
    for label, key, fmt in lines:
        a, f = (fmt.format(rows[m][key]) for m in ("adaptive", "fixed"))
        print(f"{label:14}{a:>12}{f:>12}")


if __name__ == "__main__":
    main()
