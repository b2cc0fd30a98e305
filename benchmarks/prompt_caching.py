"""Prompt caching on Anthropic's API: the suite's shared prefix marked with `cache_control`
(llm/prompt_cache.py) against the same run unmarked, through litellm's Anthropic module.

    .venv/bin/python benchmarks/prompt_caching.py [--items 100] [--n 5] [--system-words 900]

Starts `tts-bench sim serve --time-scale 0` in a subprocess and runs the arithmetic suite's
items with a long system prompt (`--system-words` words of standing instructions, as a
production prompt has) and its few-shot examples: one config `cot` and one
`self_consistency` with `n` samples (Anthropic has no `n`: one request per sample), on
`anthropic/sim-small` at Claude Sonnet's rates ($3 input, $0.30 cache read, $3.75 cache
write, $15 output per million tokens). Twice, without the response cache: marked (the
default), then with marking switched off. Prints, per run: requests, prompt tokens, of
which read from and written to the cache, cost, and the accuracy (the same in both: caching
changes the bill, not the answers).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_bench import runner  # noqa: E402
from tts_bench.llm.prompt_cache import PrefixMarks  # noqa: E402
from tts_bench.sim.spawn import spawn_sim_serve  # noqa: E402
from tts_bench.suite import parse, read_yaml  # noqa: E402

RATES = {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75, "output": 15.0}
RULE = ("Read the problem twice, name every quantity, keep units, check each step against "
        "the text and state the result as the problem asks. ")  # fmt: skip


def start_server() -> tuple[subprocess.Popen, str]:
    proc, url = spawn_sim_serve("--time-scale", "0")
    return proc, url.removesuffix("/v1")  # Anthropic's base URL has no /v1


def suite(base: str, args: argparse.Namespace) -> dict[str, Any]:
    data = read_yaml(ROOT / "suites" / "arithmetic.yaml")
    data["dataset"]["sample"] = {"size": args.items, "by": ["difficulty"], "seed": 0}
    words = len(RULE.split())
    data["prompt"]["system"] = "You are a careful assistant. " + RULE * (args.system_words // words)
    model = "anthropic/sim-small"
    data["defaults"] = {"model": model, "api_base": base, "api_key_env": "TTS_BENCH_CACHE_KEY",
                        "transport": "litellm", "max_tokens": 512, "temperature": 0.0}  # fmt: skip
    data["configs"] = [
        {"name": "cot", "strategy": "cot"},
        {"name": "sc", "strategy": "self_consistency", "n": args.n, "temperature": 0.7},
    ]
    data["baseline"] = "cot"
    data["pricing"] = {model: RATES}
    data["limits"] = {"concurrency": 16, "timeout_s": 60, "retries": 2}
    data["gates"] = []
    return data


def one_run(base: str, out: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    result = runner.run(parse(suite(base, args)), out_dir=out, run_id=name, use_cache=False,
                        preflight=False)  # fmt: skip
    if result.status != "complete":
        raise SystemExit(f"{name}: run ended {result.status}: {result.error}")
    import json

    lines = (out / name / "calls.jsonl").read_text().splitlines()
    calls = [json.loads(x) for x in lines if x.strip()]
    records = result.records
    return {
        "run": name,
        "requests": len(calls),
        "prompt": sum(c["input_tokens"] for c in calls),
        "read": sum(c["cached_tokens"] for c in calls),
        "written": sum(c["cache_write_tokens"] for c in calls),
        "cost": sum(r["cost_usd"] for r in records),
        "accuracy": {
            cfg: sum(bool(r["correct"]) for r in records if r["config"] == cfg)
            / sum(1 for r in records if r["config"] == cfg)
            for cfg in ("cot", "sc")
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--system-words", type=int, default=900)
    args = ap.parse_args()
    os.environ.setdefault("TTS_BENCH_CACHE_KEY", "sk-ant-sim")
    proc, base = start_server()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one_run(base, Path(tmp), "marked", args))
            PrefixMarks.mark = lambda self, model, messages: messages  # type: ignore[method-assign]
            rows.append(one_run(base, Path(tmp), "unmarked", args))
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{args.items} items, cot + self-consistency n={args.n} (one request per sample), "
          f"system prompt ~{args.system_words} words, anthropic/sim-small at Sonnet rates")  # fmt: skip
    print(f"{'run':9} {'requests':>8} {'prompt tok':>10} {'cache read':>10} {'cache write':>11} "
          f"{'cost $':>8}  accuracy cot / sc")  # fmt: skip
    for r in rows:
        acc = r["accuracy"]
        print(f"{r['run']:9} {r['requests']:8d} {r['prompt']:10d} {r['read']:10d} "
              f"{r['written']:11d} {r['cost']:8.4f}  {acc['cot']:.3f} / {acc['sc']:.3f}")  # fmt: skip
    marked, unmarked = rows
    print(f"marked / unmarked cost: {marked['cost'] / unmarked['cost']:.3f}")
    if marked["accuracy"] != unmarked["accuracy"]:
        raise SystemExit("accuracy differs: caching must not change answers")


if __name__ == "__main__":
    main()
