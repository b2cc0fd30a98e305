"""A judged run with a hidden truth, for tests, the demo script and docs/judging.md: records
in the judge scorer's shape (`correct` is the judge's verdict, `info.judge` its label and
votes) whose true pass/fail is known, and a reviewer that labels any exported units from it.

The simulated judge errs at `judge_error` on every output and, on top, passes a wrong
output with probability `long_bias` when the output is long: verbose configs look better to
it than they are (the bias a human sample must catch).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS = {
    # per stratum: true pass rate, share of long outputs
    "single": {"easy": (0.80, 0.2), "hard": (0.45, 0.2)},
    "verbose": {"easy": (0.78, 0.9), "hard": (0.45, 0.9)},
}


def _scorer() -> dict[str, Any]:
    """A judge scorer spec when this version knows one, else an exact scorer (the records
    carry the judge's fields either way)."""
    from tts_bench.suite import ScorerSpec

    judge = {"type": "judge", "model": "sim/small", "rubric": RUBRIC, "scale": "pass_fail"}
    try:
        ScorerSpec.model_validate(judge)
        return judge
    except Exception:  # the judge scorer is not part of this version
        return {"type": "exact"}


RUBRIC = "Pass when the reply resolves the customer's problem correctly and politely."


def write_judged_run(
    root: Path,
    *,
    n_items: int = 400,
    hard_share: float = 0.4,
    configs: dict[str, dict[str, tuple[float, float]]] | None = None,
    judge_error: float = 0.08,
    long_bias: float = 0.5,
    seed: int = 0,
) -> tuple[Path, dict[tuple[str, str], bool]]:
    """(run directory, truth {(item, config): passes}) under `root`."""
    rng = np.random.default_rng(seed)
    configs = configs or CONFIGS
    run = root / f"judged-{seed}"
    run.mkdir(parents=True, exist_ok=True)
    n_hard = int(round(n_items * hard_share))
    strata = ["hard"] * n_hard + ["easy"] * (n_items - n_hard)
    truth: dict[tuple[str, str], bool] = {}
    lines = []
    for i in range(n_items):
        item = f"t{i:05d}"
        for name, spec in configs.items():
            p, long_share = spec[strata[i]]
            ok = bool(rng.random() < p)
            long = bool(rng.random() < long_share)
            verdict = ok if rng.random() >= judge_error else not ok
            if long and not ok and rng.random() < long_bias:
                verdict = True
            truth[(item, name)] = ok
            text = ("Thanks for reaching out! " * (12 if long else 1)) + (
                "Reset it from Settings > Security." if ok else "Try reinstalling the app."
            )
            lines.append(
                json.dumps(
                    {
                        "item_id": item,
                        "config": name,
                        "strategy": "single",
                        "model": "sim/small",
                        "strata": {"difficulty": strata[i]},
                        "target": None,
                        "answer": text,
                        "output": text,
                        "correct": verdict,
                        "score": float(verdict),
                        "metrics": {},
                        "failure": None if verdict else "wrong_answer",
                        "status": "ok",
                        "cost_usd": 0.001,
                        "latency_s": 1.0,
                        "input_tokens": 100,
                        "output_tokens": 300 if long else 30,
                        "reasoning_tokens": 0,
                        "n_calls": 1,
                        "eval_cost_usd": 0.0002,
                        "eval_calls": 1,
                        "info": {
                            "judge": {
                                "label": "pass" if verdict else "fail",
                                "votes": ["pass" if verdict else "fail"],
                                "scale": "pass_fail",
                                "judges": 1,
                            }
                        },
                        "samples": None,
                    }
                )
            )
    names = list(configs)
    suite = {
        "name": "judged-synthetic",
        "dataset": {
            "source": "builtin:tickets",
            "fields": {"strata": ["difficulty"]},
            "sample": {"size": n_items, "by": ["difficulty"]},
        },
        "scorer": _scorer(),
        "baseline": names[0],
        "configs": [{"name": n, "strategy": "single"} for n in names],
    }
    manifest = {
        "run_id": run.name,
        "suite": suite,
        "status": "complete",
        "seed": seed,
        "dataset_fingerprint": "synthetic",
        "item_count": n_items,
        "configs": [{"name": n, "model": "sim/small"} for n in names],
        "baseline": names[0],
        "spent_usd": 0.0,
        "simulated": True,
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run, truth


def label_from_truth(review_csv: Path, out: Path, truth: Any, *, scale: str = "pass_fail") -> Path:
    """A labels.csv for every unit of an exported review CSV, each labelled by
    `truth(item_id, output) -> bool` (the hidden checker; never the judge's verdict)."""
    with review_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["unit", "item_id", "label", "reviewer"])
        for r in rows:
            ok = truth(r["item_id"], r["output"])
            w.writerow([r["unit"], r["item_id"], "pass" if ok else "fail", "truth"])
    return out
