"""Soak: a suite of >= 500 calls against `sim serve` injecting 10% each of 429, 500,
timeouts and malformed responses finishes with exactly one record per (item, config),
every failed call labelled, and Retry-After honoured."""

from __future__ import annotations

import json
from collections import defaultdict

from tests.conftest import demo_suite
from tts_bench import runner
from tts_bench.llm.types import CALL_STATUSES
from tts_bench.sim.server import ServerThread
from tts_bench.suite import parse

RETRY_AFTER = 0.3


def test_soak_against_a_faulty_server(tmp_path):
    data = demo_suite()
    data["dataset"]["params"] = {"size": 300, "seed": 2}
    data["dataset"]["sample"] = {"size": 110, "by": ["difficulty"], "seed": 2}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": 4, "temperature": 0.7},
    ]
    data["gates"] = []
    data["limits"] = {"concurrency": 48, "timeout_s": 0.5, "retries": 4, "max_retry_wait_s": 5}
    faults = {"429": 0.1, "500": 0.1, "slow": 0.1, "malformed": 0.1}
    with ServerThread(
        time_scale=0, faults=faults, seed=4, retry_after_s=RETRY_AFTER, slow_s=3.0
    ) as srv:
        data["defaults"] = {
            "model": "openai/sim-small",
            "api_base": srv.url,
            "temperature": 0.0,
            "max_tokens": 512,
        }
        result = runner.run(parse(data), out_dir=tmp_path, run_id="soak", use_cache=False)
        hits = list(srv.log)
    assert result.status == "complete"
    run_dir = tmp_path / "soak"
    lines = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    pairs = [(r["item_id"], r["config"]) for r in lines]
    assert len(pairs) == len(set(pairs)) == 110 * 2  # exactly one record per pair
    calls = [json.loads(x) for x in (run_dir / "calls.jsonl").read_text().splitlines()]
    assert len(calls) >= 500
    assert {c["status"] for c in calls} <= set(CALL_STATUSES)
    retried = [c for c in calls if c["retries"] > 0]
    assert len(retried) > 50  # ~40% of first attempts fail
    for c in calls:
        if c["status"] != "ok":
            assert c["error"] and c["retries"] == 4
    for r in lines:  # infrastructure failures are unscored, never wrong answers
        if r["status"] != "ok":
            assert r["correct"] is None and r["failure"] in ("rate_limited", "timeout", "api_error")
    # Retry-After honoured: after a 429 the same request comes back no sooner than it said
    by_request = defaultdict(list)
    for h in hits:
        by_request[h.fingerprint].append(h)
    gaps = []
    for seq in by_request.values():
        seq.sort(key=lambda h: h.at)
        for first, nxt in zip(seq, seq[1:], strict=False):
            if first.fault == "429":
                gaps.append(nxt.at - first.at)
    assert len(gaps) >= 20
    assert min(gaps) >= RETRY_AFTER * 0.95
    assert {h.fault for h in hits} >= {"429", "500", "slow", "malformed"}
