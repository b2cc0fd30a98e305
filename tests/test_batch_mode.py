"""Batch mode end to end against `sim serve`'s two batch APIs: same answers as one request at
a time, batch prices, errored entries retried in the next round, a SIGKILL while polling
followed by a resume that submits nothing new, unknown batch prices, latency gates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ROOT, cli, demo_suite, write_suite
from tts_bench import runner
from tts_bench.gate_rules import batch_skip
from tts_bench.llm.pricing import PriceTable
from tts_bench.llm.transports.batch_journal import BATCHES, BatchJournal
from tts_bench.sim.batch_jobs import jobs_of
from tts_bench.sim.server import ServerThread
from tts_bench.suite import GateRule, parse

KEY = "TTS_BATCH_TEST_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "sk-batch-test")


def _suite(url: str, model: str = "openai/sim-small", **extra: Any) -> dict[str, Any]:
    data = demo_suite()
    data["dataset"]["params"] = {"size": 60, "seed": 5}
    data["dataset"]["sample"] = {"size": 10, "by": ["difficulty"], "seed": 1}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": 3, "temperature": 0.7},
        *extra.pop("more_configs", []),
    ]
    data["defaults"] = {
        "model": model,
        "api_base": url,
        "api_key_env": KEY,
        "temperature": 0.0,
        "max_tokens": 512,
        "pool_request": "separate",  # one request per sample, as a batch sends them
    }
    data["limits"] = {"concurrency": 4, "retries": 3, "timeout_s": 20, "batch_poll_s": 0.05}
    data["gates"] = []
    data.update(extra)
    return data


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _answers(records: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {
        (r["item_id"], r["config"]): (r["answer"], [s["answer"] for s in r["samples"] or []])
        for r in records
    }


def _expected_calls(suite: dict[str, Any]) -> int:
    per_item = sum(c.get("n", 1) for c in suite["configs"])
    return suite["dataset"]["sample"]["size"] * per_item


@pytest.mark.parametrize(
    "model, base",
    [("openai/sim-small", "/v1"), ("anthropic/sim-small", "")],
    ids=["openai", "anthropic"],
)
def test_batch_run_gives_the_live_answers_at_batch_prices(tmp_path: Path, model: str, base: str):
    with ServerThread(time_scale=0.0, seed=3, batch_delay_s=0.05) as srv:
        root = srv.url.removesuffix("/v1")
        live = runner.run(parse(_suite(srv.url)), out_dir=tmp_path / "live", run_id="r")
        assert jobs_of(srv.server).submitted_batches == 0
        data = _suite(root + base, model=model)
        batched = runner.Runner(
            parse(data), out_dir=tmp_path / "b", run_id="r", batch=True, preflight=False
        ).run()
        jobs = jobs_of(srv.server)
        submitted = jobs.submitted_requests
    assert live.status == batched.status == "complete"
    assert _answers(batched.records) == _answers(live.records)
    assert submitted == _expected_calls(data)  # every call went in a batch, once
    run_dir = tmp_path / "b" / "r"
    assert json.loads((run_dir / "manifest.json").read_text())["batch"] == ["sc", "single"]
    assert all(r["info"].get("batch") is True for r in batched.records)
    journal = BatchJournal(run_dir / BATCHES)
    assert sum(len(b["requests"]) for b in journal.batches.values()) == submitted
    rate = PriceTable().rate("openai/sim-small")  # the simulated provider's interactive price
    calls = _lines(run_dir / "calls.jsonl")
    assert len(calls) == submitted
    for c in calls:
        full = (c["input_tokens"] * rate.input + c["output_tokens"] * rate.output) / 1e6
        assert c["cost_usd"] == pytest.approx(full / 2, rel=1e-9)  # the batch tier: half
        assert c["queue_s"] >= c["latency_s"] >= 0
    live_calls = _lines(tmp_path / "live" / "r" / "calls.jsonl")
    assert [c["queue_s"] for c in live_calls] == [None] * len(live_calls)


def test_errored_entries_are_labelled_and_retried_next_round(tmp_path: Path):
    faults = {"500": 0.25}
    with ServerThread(time_scale=0.0, seed=11, faults=faults, batch_delay_s=0.02) as srv:
        data = _suite(srv.url)
        result = runner.Runner(
            parse(data), out_dir=tmp_path, run_id="r", batch=True, preflight=False
        ).run()
        jobs = jobs_of(srv.server)
        errored = sum(j.errored for j in jobs.jobs.values())
        batches = jobs.submitted_batches
        submitted = jobs.submitted_requests
    assert errored > 0, "the seed must give errored entries"
    calls = _lines(tmp_path / "r" / "calls.jsonl")
    retried = [c for c in calls if c["retries"] > 0]
    # every errored entry came back in a later round, as a request of its own
    assert submitted == len(calls) + errored
    assert batches >= 2 and retried
    assert result.status == "complete"
    assert all(c["status"] == "ok" for c in calls)
    assert all(r["status"] == "ok" for r in result.records)


def test_a_request_out_of_retries_is_labelled_like_any_call(tmp_path: Path):
    with ServerThread(time_scale=0.0, seed=2, faults={"500": 1.0}, batch_delay_s=0.02) as srv:
        data = _suite(srv.url)
        data["limits"]["retries"] = 1
        data["dataset"]["sample"]["size"] = 3
        data["configs"] = data["configs"][:1]
        result = runner.Runner(
            parse(data), out_dir=tmp_path, run_id="r", batch=True, preflight=False
        ).run()
        submitted = jobs_of(srv.server).submitted_requests
    calls = _lines(tmp_path / "r" / "calls.jsonl")
    assert submitted == 2 * len(calls) == 6  # the first round and one retry, no more
    assert {c["status"] for c in calls} == {"server_error"}
    assert {r["status"] for r in result.records} == {"server_error"}
    assert all(r["correct"] is None for r in result.records)  # unscored, never wrong


def test_unknown_batch_price_is_null_never_invented(tmp_path: Path):
    with ServerThread(time_scale=0.0, seed=3, batch_delay_s=0.02) as srv:
        priced = {"openai/sim-small": {"input": 1.0, "output": 2.0}}
        data = _suite(srv.url, pricing=priced)
        unknown = runner.Runner(
            parse(data), out_dir=tmp_path / "u", run_id="r", batch=True, preflight=False
        ).run()
        priced["openai/sim-small"] |= {"batch_input": 0.25, "batch_output": 0.5}
        data = _suite(srv.url, pricing=priced)
        known = runner.Runner(
            parse(data), out_dir=tmp_path / "k", run_id="r", batch=True, preflight=False
        ).run()
    assert unknown.status == known.status == "complete"
    assert {r["cost_usd"] for r in unknown.records} == {None}
    assert {c["cost_usd"] for c in _lines(tmp_path / "u" / "r" / "calls.jsonl")} == {None}
    for c in _lines(tmp_path / "k" / "r" / "calls.jsonl"):
        want = (c["input_tokens"] * 0.25 + c["output_tokens"] * 0.5) / 1e6
        assert c["cost_usd"] == pytest.approx(want, rel=1e-9)


def _start(suite_path: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tts_bench.cli", "run", str(suite_path), "--out", str(out)]
    cmd += ["--run-id", "r", "--batch", "--quiet", "--no-report", "--no-preflight"]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def test_sigkill_while_polling_then_resume_submits_nothing_new(tmp_path: Path):
    with ServerThread(time_scale=0.0, seed=3, batch_delay_s=3600) as srv:
        data = _suite(srv.url)
        expected = _expected_calls(data)
        suite_path = write_suite(tmp_path / "suite.yaml", data)
        out = tmp_path / "out"
        proc = _start(suite_path, out)
        jobs = jobs_of(srv.server)
        deadline = time.monotonic() + 120
        while jobs.submitted_requests < expected:  # every call is in a pending batch
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run never submitted its batch"
            time.sleep(0.02)
        journal = out / "r" / BATCHES
        while len(BatchJournal(journal).sent) < expected:  # recorded before polling starts
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        records_file = out / "r" / "records.jsonl"
        assert not records_file.exists() or not records_file.read_text().strip()
        batches, requests = jobs.submitted_batches, jobs.submitted_requests

        jobs.delay_s = 0.02  # the provider finishes the pending batches
        resumed = cli(
            "run", str(suite_path), "--out", str(out), "--resume", str(out / "r"), "--no-report"
        )
        assert resumed.returncode == 0, resumed.stderr
        assert (jobs.submitted_batches, jobs.submitted_requests) == (batches, requests)
        assert "batches: 0 pending" in resumed.stderr  # the progress line
    records = _lines(out / "r" / "records.jsonl")
    assert len(records) == 10 * 2 and all(r["status"] == "ok" for r in records)
    assert json.loads((out / "r" / "manifest.json").read_text())["status"] == "complete"


def test_latency_gates_leave_batch_configs_out_unless_asked():
    manifest = {"batch": ["sc"]}
    rule = GateRule(metric="p95_latency_s", max=1.0)
    assert "queue time" in (batch_skip(rule, "sc", manifest) or "")
    assert batch_skip(rule, "single", manifest) is None
    assert (
        batch_skip(GateRule(metric="p95_latency_s", max=1.0, include_batch=True), "sc", manifest)
        is None
    )
    assert batch_skip(GateRule(metric="accuracy", min=0.5), "sc", manifest) is None


def test_journal_skips_a_torn_last_line_and_the_latest_batch_wins(tmp_path: Path):
    path = tmp_path / BATCHES
    journal = BatchJournal(path)
    journal.append("b1", "openai", "openai/x", {"c0-s0": "k1", "c1-s0": "k2"})
    journal.append("b2", "openai", "openai/x", {"c0-s0": "k2"})  # k2 retried in b2
    with path.open("a") as f:
        f.write('{"batch_id": "b3", "requests": {"c0-s0": "k')
    again = BatchJournal(path)
    assert again.recorded("k1").batch_id == "b1"
    assert (again.recorded("k2").batch_id, again.recorded("k2").custom_id) == ("b2", "c0-s0")
    assert again.recorded("k3") is None and "b3" not in again.batches


def test_sim_batch_files_have_openai_shapes():
    async def go(url: str, srv: Any) -> None:
        async with aiohttp.ClientSession() as s:
            body = {"model": "sim-small", "messages": [{"role": "user", "content": "2+2?"}]}
            rows = [
                {"custom_id": "a-s0", "method": "POST", "url": "/v1/chat/completions", "body": body}
            ]
            rows.append({**rows[0], "custom_id": "b-s1", "body": {**body, "model": "nope"}})
            form = aiohttp.FormData()
            form.add_field("purpose", "batch")
            form.add_field("file", "\n".join(map(json.dumps, rows)).encode(), filename="in.jsonl")
            f = await (await s.post(url + "/files", data=form)).json()
            make = {"input_file_id": f["id"], "endpoint": "/v1/chat/completions"}
            b = await (
                await s.post(url + "/batches", json={**make, "completion_window": "24h"})
            ).json()
            assert b["status"] == "validating" and b["request_counts"]["total"] == 2
            jobs_of(srv.server).delay_s = 0.0
            while b["status"] != "completed":
                await asyncio.sleep(0.02)
                b = await (await s.get(f"{url}/batches/{b['id']}")).json()
            assert b["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
            out = (
                await (await s.get(f"{url}/files/{b['output_file_id']}/content")).read()
            ).decode()
            err = (await (await s.get(f"{url}/files/{b['error_file_id']}/content")).read()).decode()
            ok, bad = json.loads(out), json.loads(err)
            assert ok["custom_id"] == "a-s0" and ok["error"] is None
            assert ok["response"]["status_code"] == 200
            assert ok["response"]["body"]["choices"][0]["message"]["content"]
            assert bad["custom_id"] == "b-s1" and bad["response"]["status_code"] == 404
            assert bad["response"]["body"]["error"]["code"] == "model_not_found"

    with ServerThread(time_scale=0.0, batch_delay_s=3600) as srv:
        asyncio.run(go(srv.url, srv))


def test_request_bodies_are_the_live_ones():
    from tts_bench.llm.transports.batch_wire import BatchWire
    from tts_bench.llm.types import ModelSpec

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    params = {"api_base": ["http://a/v1", "http://b/v1"], "top_p": 0.9, "transport": "direct"}
    spec = ModelSpec("openai/m", 0.5, 64, params=params)
    wire = BatchWire(None, spec, "k")  # type: ignore[arg-type]
    assert wire.base == "http://a/v1"  # replicas: a batch goes to the first
    assert wire.body(spec, messages) == {
        "model": "m",
        "messages": messages,
        "temperature": 0.5,
        "max_tokens": 64,
        "top_p": 0.9,
    }
    spec = ModelSpec("anthropic/c", 1.0, 4096, params={"thinking_budget": 2048})
    wire = BatchWire(None, spec, "k")  # type: ignore[arg-type]
    assert wire.headers["x-api-key"] == "k" and wire.base == "https://api.anthropic.com"
    assert wire.body(spec, messages) == {
        "model": "c",
        "max_tokens": 4096,
        "messages": messages[1:],
        "temperature": 1.0,
        "system": "Be brief.",
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
