"""What a run promises: one writer per run directory, a manifest before any call, resuming a
complete run changes nothing, safe run names, fatal provider errors fail the run early."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli, demo_suite, write_suite

OK_BODY = {
    "choices": [{"index": 0, "message": {"content": "Final answer: 4"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 4},
}


class GateServer:
    """An OpenAI-compatible endpoint on 127.0.0.1 whose answers wait for `release()`, so a
    test decides when a run may finish; `status`/`body` set every answer (200 by default).
    `hits` counts requests received."""

    def __init__(self, status: int = 200, body: dict | None = None, hold: bool = True) -> None:
        self.status, self.body = status, body or OK_BODY
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.hits = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.hits += 1
                outer.gate.wait(120)
                data = json.dumps(outer.body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def release(self) -> None:
        self.gate.set()

    def __enter__(self) -> GateServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _suite(tmp: Path, n: int = 6, model: str = "sim/small", **defaults) -> Path:
    data = {**demo_suite(), "gates": []}
    data["dataset"]["sample"]["size"] = n
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": [1, 3], "temperature": 0.7},
    ]
    data["defaults"] = {"model": model, **defaults}
    data["limits"] = {"concurrency": 4, "timeout_s": 120, "retries": 0}
    data["pricing"] = {"openai/fake": {"input": 0.5, "output": 1.5}}  # no price map to load
    return write_suite(tmp / "suite.yaml", data)


def _run(suite: Path, out: Path, *extra: str, **kw) -> subprocess.CompletedProcess[str]:
    return cli("run", str(suite), "--out", str(out), "--quiet", "--no-report", *extra, **kw)


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root but the lock file (which holds the last locker's pid)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines() if x]


def _errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


def _popen(suite: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tts_bench.cli", "run", str(suite), "--out", str(out)]
        + ["--quiet", "--no-report", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(cond, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not cond():
        assert proc.poll() is None, f"run ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# -- resuming a finished run ----------------------------------------------------------------


def test_resuming_a_complete_run_is_a_no_op(tmp_path):
    suite, out = _suite(tmp_path), tmp_path / "out"
    first = _run(suite, out, "--run-id", "r")
    assert first.returncode == 0, first.stderr
    assert _manifest(out / "r")["status"] == "complete"
    before = _snapshot(out)  # the cache included: no call may be made
    for again in (
        _run(suite, out, "--resume", str(out / "r")),
        _run(suite, out, "--run-id", "r"),
    ):
        assert again.returncode == 0, again.stderr
        assert "already complete" in again.stdout
        assert "every request failed" not in again.stderr
        assert _snapshot(out) == before


@pytest.mark.parametrize("change", ["configs", "scorer"])
def test_a_resume_with_a_changed_suite_is_refused(tmp_path, change):
    """Records scored one way never mix with records of another config or scorer."""
    suite, out = _suite(tmp_path), tmp_path / "out"
    first = _run(suite, out, "--run-id", "r")
    assert first.returncode == 0, first.stderr
    before = _snapshot(out / "r")
    import yaml

    data = yaml.safe_load(suite.read_text())
    if change == "configs":
        data["configs"][1]["n"] = [1, 5]
    else:
        data["scorer"] = {**data["scorer"], "tolerance": 0.5}
    changed = write_suite(tmp_path / "changed.yaml", data)
    again = _run(changed, out, "--resume", str(out / "r"))
    assert again.returncode == 2, again.stderr
    errors = _errors(again)
    assert len(errors) == 1 and f"{change} differ" in errors[0], again.stderr
    assert _snapshot(out / "r") == before


def test_killed_just_after_the_last_record_finishes_complete_without_calls(tmp_path):
    suite, out = _suite(tmp_path), tmp_path / "out"
    assert _run(suite, out, "--run-id", "r").returncode == 0
    run_dir = out / "r"
    records = (run_dir / "records.jsonl").read_bytes()
    # what a SIGKILL between the last record and the final manifest leaves behind
    manifest = _manifest(run_dir)
    manifest.update(status="running", finished_at=None)
    manifest["sessions"][-1] = {"started_at": manifest["sessions"][-1]["started_at"]}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    again = _run(suite, out, "--resume", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert "every request failed" not in again.stderr and not _errors(again)
    after = _manifest(run_dir)
    assert after["status"] == "complete" and after["error"] is None
    assert after["sessions"][-1]["live_calls"] == 0
    assert (run_dir / "records.jsonl").read_bytes() == records


# -- one writer -----------------------------------------------------------------------------


def test_a_second_writer_is_refused_and_the_first_finishes_alone(tmp_path):
    with GateServer() as server:
        suite = _suite(tmp_path, model="openai/fake", api_base=server.url)
        out = tmp_path / "out"
        first = _popen(suite, out, "--run-id", "r")
        _wait_for(lambda: server.hits >= 1, first, "the first call")
        for args in (["--resume", str(out / "r")], ["--run-id", "r"]):
            second = _run(suite, out, *args)
            assert second.returncode == 2, second.stderr
            assert _errors(second) == [f"error: run {out / 'r'} is in use (pid {first.pid})"]
        server.release()
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    manifest = _manifest(out / "r")
    assert manifest["status"] == "complete" and len(manifest["sessions"]) == 1
    records = _records(out / "r")
    assert len(records) == 12 and all(r["status"] == "ok" for r in records)
    calls = [json.loads(x) for x in (out / "r" / "calls.jsonl").read_text().splitlines()]
    keys = [(c["item_id"], c["config"], c["role"], c["sample_index"]) for c in calls]
    assert len(keys) == len(set(keys)) == 6 * (1 + 3)
    # no call paid twice; the preflight's calls (one per model and parameters) came first
    checked = manifest["sessions"][0]["preflight_calls"]
    assert checked == 2  # single at temperature 0, sc at 0.7
    assert server.hits == len(keys) + checked


def test_a_sigkilled_writer_leaves_no_stale_lock(tmp_path):
    with GateServer() as server:
        suite = _suite(tmp_path, model="openai/fake", api_base=server.url)
        out = tmp_path / "out"
        proc = _popen(suite, out, "--run-id", "r", "--no-preflight")  # killed mid-run
        _wait_for(lambda: server.hits >= 1, proc, "the first call")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert (out / "r" / ".lock").exists() and _manifest(out / "r")["status"] == "running"
        server.release()
        again = _run(suite, out, "--resume", str(out / "r"))
    assert again.returncode == 0, again.stderr
    assert _manifest(out / "r")["status"] == "complete" and len(_records(out / "r")) == 12


# -- killed before the manifest -------------------------------------------------------------


def test_a_kill_at_any_early_moment_leaves_a_run_that_reruns_under_its_name(tmp_path):
    suite, out = _suite(tmp_path), tmp_path / "out"
    proc = _popen(suite, out, "--run-id", "r")
    _wait_for(lambda: (out / "r").exists(), proc, "the run directory")
    os.kill(proc.pid, signal.SIGKILL)  # wherever it lands: before, during or after the manifest
    proc.wait()
    again = _run(suite, out, "--run-id", "r")
    assert again.returncode == 0, again.stderr
    assert _manifest(out / "r")["status"] == "complete" and len(_records(out / "r")) == 12


@pytest.mark.parametrize("how", ["--run-id", "--resume"])
def test_a_directory_without_manifest_starts_again(tmp_path, how):
    suite, out = _suite(tmp_path), tmp_path / "out"
    assert _run(suite, out, "--run-id", "ref").returncode == 0
    ref = {(r["item_id"], r["config"]): r["correct"] for r in _records(out / "ref")}
    # killed between the lock and the manifest (a lock and a stray temp file) ...
    early = out / "early"
    early.mkdir()
    (early / ".lock").write_text("999999\n")
    (early / ".manifest.json.abc.tmp").write_text('{"run_id": "ear')
    # ... or by an older version, which wrote calls and records before its manifest
    legacy = out / "legacy"
    legacy.mkdir()
    rows = (out / "ref" / "records.jsonl").read_text().splitlines()
    (legacy / "records.jsonl").write_text("\n".join(rows[:3]) + '\n{"item_id": "x", "con')
    (legacy / "calls.jsonl").write_text((out / "ref" / "calls.jsonl").read_text()[:500])
    for run_dir in (early, legacy):
        args = ["--run-id", run_dir.name] if how == "--run-id" else ["--resume", str(run_dir)]
        again = _run(suite, out, *args)
        assert again.returncode == 0, again.stderr
        assert _manifest(run_dir)["status"] == "complete"
        got = {(r["item_id"], r["config"]): r["correct"] for r in _records(run_dir)}
        assert got == ref  # every record once, as an uninterrupted run gives them
    assert "started again" in again.stderr


def test_a_directory_that_is_not_a_run_is_left_alone(tmp_path):
    suite, out = _suite(tmp_path), tmp_path / "out"
    (out / "r").mkdir(parents=True)
    (out / "r" / "notes.txt").write_text("mine")
    before = _snapshot(out)
    proc = _run(suite, out, "--run-id", "r")
    assert proc.returncode == 2 and "not a run to resume" in proc.stderr
    assert _snapshot(out) == before and not (out / "r" / ".lock").exists()


# -- run names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "ABS", "a/b", "..", ".", "a b", "x\n"])
def test_run_id_is_one_safe_path_component(tmp_path, name):
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    suite, out = _suite(tmp_path), work / "out"
    if name == "ABS":
        name = str(tmp_path / "abs")
    proc = _run(suite, out, "--run-id", name)
    assert proc.returncode == 2, proc.stderr
    assert len(_errors(proc)) == 1 and "--run-id" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["work", "deep", "suite.yaml"])


def test_generated_run_ids_are_safe_whatever_the_suite_name():
    from tts_bench.store import check_run_id, new_run_id

    for name in ("résumé / ../x", "..", "a b:c", ""):
        assert check_run_id(new_run_id(name))


# -- fatal provider errors ------------------------------------------------------------------
# These run with --no-preflight: they are about a fatal error met mid-run (a key revoked, a
# model withdrawn), which the runner must still stop on. tests/test_preflight.py covers the
# same errors caught before the run starts.


def _fatal_suite(tmp: Path, url: str | None, **cfg) -> Path:
    data = {**demo_suite(), "gates": []}
    data["dataset"]["sample"]["size"] = 30
    remote = {"name": "remote", "strategy": "single", "model": "openai/gpt-4o-mini", **cfg}
    if url:
        remote["api_base"] = url
    data["configs"] = [{"name": "single", "strategy": "single"}, remote]
    data["limits"] = {"concurrency": 2, "timeout_s": 30, "retries": 4}
    # a known price: an error response then costs a known $0 (and no price map is loaded)
    data["pricing"] = {"openai/gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    return write_suite(tmp / "suite.yaml", data)


def _assert_failed_fast(proc, out: Path, *fragments: str, stop_after: int = 1) -> list[dict]:
    """The run failed with one line naming the config, model, key variable and error, and
    the config stopped after `stop_after` failures plus the pairs already in flight."""
    assert proc.returncode == 2, proc.stderr
    errors = _errors(proc)
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "see the warning" not in proc.stderr
    for fragment in ("config remote", "model openai/gpt-4o-mini", *fragments):
        assert fragment in errors[0], errors[0]
    manifest = _manifest(out / "r")
    assert manifest["status"] == "failed" and manifest["error"] in errors[0]
    records = _records(out / "r")
    assert sum(r["config"] == "single" and r["status"] == "ok" for r in records) == 30
    remote = [r for r in records if r["config"] == "remote"]
    in_flight = 2 * 2 - 1  # workers (twice the concurrency) besides the one that failed
    assert stop_after <= len(remote) <= stop_after + in_flight
    assert all(r["status"] != "ok" for r in remote)
    calls = [json.loads(x) for x in (out / "r" / "calls.jsonl").read_text().splitlines()]
    assert all(c["retries"] == 0 for c in calls if c["config"] == "remote")  # never retried
    return remote


def test_a_rejected_key_stops_its_config_and_fails_the_run(tmp_path):
    body = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
    with GateServer(401, body, hold=False) as server:
        suite = _fatal_suite(tmp_path, server.url, api_key_env="TTS_TEST_KEY")
        out = tmp_path / "out"
        env = {"TTS_TEST_KEY": "sk-test-000000"}
        proc = _run(suite, out, "--run-id", "r", "--no-preflight", env=env)
        remote = _assert_failed_fast(proc, out, "key variable TTS_TEST_KEY", "auth_error")
        assert server.hits == len(remote)
        assert "sk-test-000000" not in proc.stderr
        # the quick-look table shows the stopped config as "—", never $0
        row = next(ln for ln in proc.stdout.splitlines() if "remote" in ln)
        assert "$0" not in row and row.count("—") >= 3


def test_a_missing_key_through_litellm_fails_the_run(tmp_path):
    env = {k: "" for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")}
    suite, out = _fatal_suite(tmp_path, None), tmp_path / "out"
    proc = _run(suite, out, "--run-id", "r", "--no-preflight", env=env)
    _assert_failed_fast(proc, out, "key variable OPENAI_API_KEY", "auth_error")


def test_the_same_bad_request_three_times_stops_a_config(tmp_path):
    body = {"error": {"message": "unsupported parameter: foo", "type": "invalid_request_error"}}
    with GateServer(400, body, hold=False) as server:
        suite = _fatal_suite(tmp_path, server.url)
        out = tmp_path / "out"
        proc = _run(suite, out, "--run-id", "r", "--no-preflight")
        remote = _assert_failed_fast(
            proc, out, "bad_request", "unsupported parameter", stop_after=3
        )
        assert 3 <= server.hits == len(remote)


def test_a_run_with_an_unscored_config_reports_dashes_not_zero(tmp_path):
    from tts_bench.analysis import summarize

    body = {"error": {"message": "no such model", "type": "invalid_request_error"}}
    with GateServer(404, body, hold=False) as server:
        suite = _fatal_suite(tmp_path, server.url)
        out = tmp_path / "out"
        proc = _run(suite, out, "--run-id", "r", "--no-preflight")
    assert proc.returncode == 2 and "not_found" in proc.stderr
    summary = summarize(out / "r", resamples=200)
    remote = next(c for c in summary["configs"] if c["config"] == "remote")
    overall = remote.get("overall", remote)
    assert overall["n_scored"] == 0
    assert overall["cost"]["mean_usd"] is None and overall["cost"]["total_usd"] is None
    assert overall["latency"]["p50"]["value"] is None and overall["latency"]["mean"] is None
    assert overall["tokens"]["input_mean"] is None
    delta = remote["delta"]
    assert delta["cost_ratio"]["value"] is None and delta["latency_p95_ratio"]["value"] is None
    point = next(p for p in summary["frontier"] if p["label"] == "remote")
    assert point["cost_usd"] is None and point["latency_p95_s"] is None


# -- the final status -----------------------------------------------------------------------


def _call(status: str, error: str | None = None, model: str = "openai/gpt-4o-mini"):
    from tts_bench.llm.types import CallRecord

    return CallRecord(
        "i", "c", "sample", 0, model, 0, 0, 0, 0, 0.0, 0.0, status, 0, False, None, error
    )


def test_settle_says_complete_only_when_true():
    from tts_bench.llm.types import ModelSpec
    from tts_bench.run_state import ConfigHealth, Progress, settle

    specs = {
        "a": (ModelSpec("sim/small"), None),
        "b": (ModelSpec("openai/gpt-4o-mini", api_key_env="MY_KEY"), None),
    }
    ok = [{"config": "a", "status": "ok"}, {"config": "b", "status": "ok"}]
    # nothing left to run: no request made, so never "every request failed"
    assert settle("complete", ConfigHealth(specs), Progress(2, 2), ["a", "b"], ok) == (
        "complete",
        None,
    )
    # a resume whose every request failed is failed, even with earlier scored records
    health, progress = ConfigHealth(specs), Progress(2, 4)
    for _ in range(2):
        health.observe("b", [_call("timeout", "no response within 2 s")], ok=False)
        progress.advance(False, 0.0)
    status, msg = settle("complete", health, progress, ["a", "b"], ok)
    assert status == "failed" and "every request failed: 2 of 2" in msg and "timeout" in msg
    # a config without a scored record fails the run by name
    recs = [{"config": "a", "status": "ok"}, {"config": "b", "status": "timeout"}]
    progress.advance(True, 0.0)
    status, msg = settle("complete", health, progress, ["a", "b"], recs)
    assert status == "failed" and "no scored record for config b" in msg
    # a fatal error names config, model and key variable; Ctrl-C still wins the status
    health.observe("b", [_call("auth_error", "HTTP 401: bad key")], ok=False)
    status, msg = settle("complete", health, progress, ["a", "b"], recs)
    assert status == "failed"
    assert msg.startswith(
        "config b (model openai/gpt-4o-mini, key variable MY_KEY): auth_error: HTTP 401"
    )
    assert settle("interrupted", health, progress, ["a", "b"], recs)[0] == "interrupted"
    assert settle("budget_exceeded", health, progress, ["a", "b"], recs)[0] == "failed"


def test_three_identical_bad_requests_stop_only_an_unscored_config():
    from tts_bench.llm.types import ModelSpec
    from tts_bench.run_state import ConfigHealth

    health = ConfigHealth({"a": (ModelSpec("openai/x"), None)})
    for error in ("e1", "e2", "e1", "e2"):
        health.observe("a", [_call("bad_request", error)], ok=False)
    assert "a" not in health.stopped  # two texts, twice each
    health.observe("a", [_call("bad_request", "e1")], ok=False)
    assert "a" in health.stopped
    scored = ConfigHealth({"a": (ModelSpec("openai/x"), None)}, scored={"a"})
    for _ in range(5):  # a provider rejecting some items of a config that works
        scored.observe("a", [_call("bad_request", "too long")], ok=False)
    assert not scored.stopped


def test_the_key_variable_named_is_the_one_read():
    from tts_bench.llm.types import ModelSpec
    from tts_bench.run_state import key_variable

    assert key_variable(ModelSpec("openai/gpt-4o-mini")) == "OPENAI_API_KEY"
    assert key_variable(ModelSpec("anthropic/claude-x", api_key_env="K")) == "K"
    local = ModelSpec("openai/qwen", params={"api_base": "http://127.0.0.1:1/v1"})
    assert key_variable(local).startswith("none")  # the direct transport reads only api_key_env


def test_a_fatal_judge_call_names_the_scorers_key_variable():
    from tts_bench.llm.types import CallRecord, ModelSpec
    from tts_bench.run_state import ConfigHealth
    from tts_bench.scoring.judge import judge_specs
    from tts_bench.suite import ScorerSpec

    scorer = ScorerSpec(type="judge", model="openai/gpt-judge", rubric="r", api_key_env="JUDGE_KEY")
    specs = {"a": (ModelSpec("openai/gpt-4o-mini", api_key_env="SERVE_KEY"), None)}
    health = ConfigHealth(specs, judges=judge_specs(scorer))
    judge_call = CallRecord(
        "i", "a", "eval_judge", 0, "openai/gpt-judge", 0, 0, 0, 0, 0.0, 0.0, "auth_error", 0,
        False, None, "HTTP 401: bad key",
    )  # fmt: skip
    health.observe("a", [judge_call], ok=False)
    assert health.why("a") == (
        "config a (judge model openai/gpt-judge, key variable JUDGE_KEY): auth_error: "
        "HTTP 401: bad key"
    )
    assert judge_specs(ScorerSpec(type="exact")) == []
