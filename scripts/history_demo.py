"""A week of history from the simulator: one run of a small arithmetic suite per day, each
under the day's simulated profile, so `tts-bench history` and `gate --history` have drift to
find (docs/history.md):

  day 1-3  sim/prod-0601: the production model, nothing changes (sampling noise only)
  day 4    the provider doubles its prices              -> cost per request alert
  day 5    prices back, the endpoint is slow            -> P95 alert
  day 6    a new model version, sim/prod-0615, that breaks the answer format more often
                                                          -> format-violation alert
  day 7    sim/prod-0615 fixed                           -> quiet

Each run is made now, then dated to its day (manifest `started_at`/`finished_at`, 06:00 UTC
from --start) before its summary.json is written, so the history reads as a week.

  python scripts/history_demo.py --out results/history-demo [--size 60] [--days 7]
  tts-bench history results/history-demo --suite history-demo -o history.html
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "history-demo"
BASE = {"base": "small", "format_violation_rate": 0.01}
# day -> (model profile name, knobs over BASE)
DAYS: list[tuple[str, dict[str, Any]]] = [
    ("prod-0601", {}),
    ("prod-0601", {}),
    ("prod-0601", {}),
    ("prod-0601", {"price_input": 0.30, "price_output": 1.20}),
    ("prod-0601", {"ttft_median_s": 0.5, "tokens_per_s": 80.0}),
    ("prod-0615", {"format_violation_rate": 0.2}),
    ("prod-0615", {}),
]


CONFIGS: list[dict[str, Any]] = [
    {"name": "single", "strategy": "single"},
    {"name": "cot", "strategy": "cot"},
    {"name": "sc", "strategy": "self_consistency", "n": [1, 3, 5], "temperature": 0.7},
]


def suite_for(
    day: int, size: int, configs: list[str] | None = None, resamples: int = 1000
) -> dict[str, Any]:
    """The suite of day `day` (0-based): the same items every day, the day's profile;
    `configs` keeps only those configs (all three by default)."""
    model, knobs = DAYS[day % len(DAYS)]
    return {
        "name": SUITE,
        "description": "a week of simulated production traffic",
        "seed": day,  # a new day, new sampling noise
        "dataset": {
            "source": "builtin:arithmetic",
            "params": {"size": 600, "seed": 7},
            "fields": {
                "id": "id",
                "input": "question",
                "target": "answer",
                "strata": ["difficulty"],
            },
            "sample": {"size": size, "by": ["difficulty"], "seed": 0},
        },
        "prompt": {
            "system": "You are a careful assistant.",
            "template": "{question}\nEnd with 'Final answer: <number>'.",
        },
        "scorer": {"type": "numeric", "tolerance": 1e-6},
        "sim_profiles": {model: {**BASE, **knobs}},
        "defaults": {"model": f"sim/{model}", "temperature": 0.0, "max_tokens": 512},
        "baseline": "single",
        "configs": [c for c in CONFIGS if configs is None or c["name"] in configs],
        "analysis": {"resamples": resamples},
    }


def _redate(run_dir: Path, when: datetime) -> None:
    from tts_bench.store import read_manifest, write_manifest

    m = read_manifest(run_dir)
    start, end = (
        when.isoformat(timespec="seconds"),
        (when + timedelta(minutes=3)).isoformat(timespec="seconds"),
    )
    m["started_at"], m["finished_at"] = start, end
    for s in m.get("sessions") or []:
        s["started_at"], s["finished_at"] = start, end
    write_manifest(run_dir, m)


def make_history(
    out: Path,
    *,
    days: int = 7,
    size: int = 60,
    start: str = "2026-06-01",
    configs: list[str] | None = None,
    resamples: int = 1000,
) -> list[Path]:
    """Run the week into `out` (one run directory per day, named `day-N`; `size` items,
    `configs` of the suite, `resamples` for the summaries); returns the run directories."""
    from tts_bench import runner
    from tts_bench.analysis import write_summary
    from tts_bench.suite import parse

    first = datetime.fromisoformat(start).replace(hour=6, tzinfo=UTC)
    made = []
    for day in range(days):
        data = suite_for(day, size, configs, resamples)
        suite = parse(data, f"{SUITE} day {day + 1}", ROOT / "suites")
        result = runner.run(suite, out_dir=out, run_id=f"day-{day + 1}", use_cache=False)
        _redate(result.run_dir, first + timedelta(days=day))
        write_summary(result.run_dir)
        made.append(result.run_dir)
    return made


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/history-demo"))
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--size", type=int, default=60, help="items per run")
    p.add_argument("--start", default="2026-06-01", help="the first day (YYYY-MM-DD)")
    args = p.parse_args(argv)
    for run_dir in make_history(args.out, days=args.days, size=args.size, start=args.start):
        m = json.loads((run_dir / "manifest.json").read_text())
        print(f"{run_dir}  {m['started_at']}  {m['status']}  ${m['spent_usd']:.4f}")


if __name__ == "__main__":
    main()
