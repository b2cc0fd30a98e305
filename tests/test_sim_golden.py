"""The simulator reproduces its recorded outputs exactly (for this SIM_VERSION).

`tests/fixtures/sim_golden.json.gz` holds a few thousand simulate() requests with their
replies (text, finish reason, tokens, latencies) over every built-in task, every built-in
profile plus a suite-defined one, every role, temperatures, sample indices, seeds,
reasoning efforts, thinking budgets and truncating token limits, and the records of small
in-process runs of five suites (`tests/fixtures/sim_golden_suites.yaml`). The requests are
stored, not rebuilt, so only the simulator (and, for the runs, the harness around it) is
under test.

Rebuild after a deliberate change of simulated behaviour (and a SIM_VERSION bump):
    .venv/bin/python -m tests.test_sim_golden --write
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from tts_bench import runner, sim
from tts_bench.suite import parse, read_yaml

FIXTURE = Path(__file__).parent / "fixtures" / "sim_golden.json.gz"
TINY = {"tiny": {"base": "small", "plain_step_error": 0.05, "ttft_median_s": 0.1}}
BIG_REASONER = {"deep": {"base": "reasoner", "reasoning_overhead_tokens": 200}}
LIMIT = 10  # items per suite run: every config on a few items of each stratum
# five small suites over the four built-in tasks, every strategy and role, few-shot examples,
# reasoning knobs, a truncating token limit and suite-defined profiles (TINY, BIG_REASONER)
SUITES: list[dict[str, Any]] = read_yaml(FIXTURE.parent / "sim_golden_suites.yaml")
RECORD_KEYS = (
    "answer",
    "output",
    "correct",
    "score",
    "failure",
    "status",
    "cost_usd",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "n_calls",
    "confidence",
    "samples",
)
SAMPLE_KEYS = (
    "answer",
    "correct",
    "score",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "finish_reason",
)


def _run_suites(out: Path) -> dict[str, dict[str, dict]]:
    """Each suite's records by `item_id|config`, reduced to the simulator's figures."""
    runs: dict[str, dict[str, dict]] = {}
    for data in SUITES:
        res = runner.run(
            parse(copy.deepcopy(data)),
            out_dir=out,
            run_id=data["name"],
            use_cache=False,
            limit=LIMIT,
        )
        assert res.status == "complete", (data["name"], res.status, res.error)
        rows = {}
        for r in res.records:
            row = {k: r.get(k) for k in RECORD_KEYS}
            if row["samples"] is not None:
                row["samples"] = [{k: s.get(k) for k in SAMPLE_KEYS} for s in row["samples"]]
            rows[f"{r['item_id']}|{r['config']}"] = row
        runs[data["name"]] = rows
    return runs


def _reply(kw: dict[str, Any]) -> list:
    out = sim.simulate(**kw)
    return [
        out.text,
        out.finish_reason,
        out.input_tokens,
        out.output_tokens,
        out.reasoning_tokens,
        out.latency_s,
        out.ttft_s,
    ]


# Variants of a captured request: every profile, temperatures, samples, seeds and knobs.
MODELS = ("sim/small", "sim/large", "sim/reasoner", "sim/tiny", "sim/deep")
TEMPS = (0.0, 0.0, 0.3, 0.7, 1.0, 1.5)
PARAMS: tuple[dict | None, ...] = (
    None,
    None,
    {"reasoning_effort": "low"},
    {"reasoning_effort": "medium"},
    {"reasoning_effort": "high"},
    {"thinking_budget": 150},
    {"thinking_budget": 2000},
    {"reasoning_effort": "high", "thinking_budget": 400},
)
MAX_TOKENS = (4096, 4096, 4096, 512, 64, 16)


def _build(tmp: Path) -> dict[str, Any]:
    captured: list[dict[str, Any]] = []
    real = sim.simulate

    def spy(model, messages, **kw):
        captured.append({"model": model, "messages": copy.deepcopy(messages), **kw})
        return real(model, messages, **kw)

    sim.simulate = spy  # the in-process backend looks it up on the package at each call
    try:
        runs = _run_suites(tmp)
    finally:
        sim.simulate = real
    rng = random.Random(20261201)
    seen: dict[str, dict] = {}
    for c in captured:
        seen.setdefault(json.dumps(c["messages"], sort_keys=True), c)
    distinct = sorted(seen.values(), key=lambda c: json.dumps(c["messages"], sort_keys=True))
    base = rng.sample(distinct, min(len(distinct), 1200))
    requests: list[dict[str, Any]] = []
    for c in base:
        requests.append({k: v for k, v in c.items() if k != "profiles"})
        for _ in range(7):
            requests.append(
                {
                    "model": rng.choice(MODELS),
                    "messages": c["messages"],
                    "temperature": rng.choice(TEMPS),
                    "max_tokens": rng.choice(MAX_TOKENS),
                    "sample_index": rng.choice((0, 0, 1, 2, 7)),
                    "seed": rng.choice((0, 0, 3)),
                    "params": rng.choice(PARAMS),
                }
            )
    texts: dict[str, int] = {}

    def ref(s: str) -> int:
        return texts.setdefault(s, len(texts))

    calls = []
    for kw in requests:
        kw = {**kw, "profiles": {**TINY, **BIG_REASONER}}
        calls.append(
            {
                "model": kw["model"],
                "messages": [[m["role"], ref(m["content"])] for m in kw["messages"]],
                "temperature": kw["temperature"],
                "max_tokens": kw["max_tokens"],
                "sample_index": kw.get("sample_index", 0),
                "seed": kw.get("seed", 0),
                "params": kw.get("params"),
                "reply": _reply(kw),
            }
        )
    return {
        "sim_version": sim.SIM_VERSION,
        "texts": list(texts),
        "calls": calls,
        "runs": runs,
    }


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def _request(golden: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    texts = golden["texts"]
    return {
        "model": call["model"],
        "messages": [{"role": r, "content": texts[i]} for r, i in call["messages"]],
        "temperature": call["temperature"],
        "max_tokens": call["max_tokens"],
        "sample_index": call["sample_index"],
        "seed": call["seed"],
        "params": call["params"],
        "profiles": {**TINY, **BIG_REASONER},
    }


def test_fixture_is_for_this_sim_version(golden):
    assert golden["sim_version"] == sim.SIM_VERSION, (
        "SIM_VERSION moved: rebuild with `python -m tests.test_sim_golden --write`"
    )


def test_fixture_covers_every_task_profile_and_role(golden):
    from tts_bench import prompts

    texts = golden["texts"]
    last = [texts[c["messages"][-1][1]] for c in golden["calls"]]
    roles = {prompts.role_of(t) for t in last}
    assert roles >= {None, *prompts.ROLE_HEADERS}
    assert {c["model"] for c in golden["calls"]} == set(MODELS)
    assert {c["reply"][1] for c in golden["calls"]} == {"stop", "length"}
    assert len(golden["calls"]) >= 2000


def test_simulate_reproduces_every_recorded_reply(golden):
    bad = []
    for n, call in enumerate(golden["calls"]):
        got = _reply(_request(golden, call))
        if got != call["reply"]:
            bad.append((n, call["model"], call["reply"], got))
    assert not bad, f"{len(bad)} of {len(golden['calls'])} replies differ; first: {bad[0]}"


def _forget() -> None:
    """Empty every memo of the simulator, as in a fresh process."""
    from tts_bench.sim import (
        call,
        model,
        tasks,
        tasks_arithmetic,
        tasks_contracts,
        tasks_knowledge,
        tasks_tickets,
        text,
    )

    for mod in (
        call,
        model,
        tasks,
        tasks_arithmetic,
        text,
        tasks_contracts,
        tasks_knowledge,
        tasks_tickets,
    ):
        for value in vars(mod).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    model._BUILTIN_HITS.clear()
    tasks_arithmetic._ERRORS.clear()


def test_replies_do_not_depend_on_what_was_simulated_before(golden):
    """Memoised draws and parses give the same replies cold, warm, and in any order."""
    calls = golden["calls"][::-7]  # backwards, so other items' draws come first
    _forget()
    cold = [_reply(_request(golden, c)) for c in calls]
    warm = [_reply(_request(golden, c)) for c in calls[::-1]][::-1]
    want = [c["reply"] for c in calls]
    assert cold == want
    assert warm == want


def test_suite_runs_reproduce_their_records(golden, tmp_path):
    runs = _run_suites(tmp_path)
    assert set(runs) == set(golden["runs"])
    for name, rows in golden["runs"].items():
        assert set(runs[name]) == set(rows), name
        for key, want in rows.items():
            assert _same(runs[name][key], want), (name, key, runs[name][key], want)


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 relative: a cost sum may differ in its last bit with the order
    calls finish in."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and (math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_sim_golden --write")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = _build(Path(tmp))
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    FIXTURE.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))
    print(
        f"{FIXTURE}: {len(data['calls'])} calls, {sum(map(len, data['runs'].values()))} "
        f"records, {FIXTURE.stat().st_size / 1024:.0f} KB"
    )
