"""A canary API key in the environment must not reach any file a run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli, demo_suite, write_suite
from tests.echoserver import ScriptedServer
from tts_bench.sim.server import ServerThread

CANARY = "sk-canary-7f3a9c1e5b2d4f60"


@pytest.mark.parametrize("transport", ["direct", "litellm"])
def test_canary_key_appears_in_no_file(tmp_path: Path, transport: str):
    data = demo_suite()
    data["dataset"]["sample"]["size"] = 9
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": 2, "temperature": 0.7},
    ]
    data["gates"] = []
    with ServerThread(time_scale=0) as srv:
        data["defaults"] = {
            "model": "openai/sim-small",
            "api_base": srv.url,
            "api_key_env": "TTS_CANARY_KEY",
            "transport": transport,
            "temperature": 0.0,
            "max_tokens": 512,
        }
        suite = write_suite(tmp_path / "suite.yaml", data)
        proc = cli(
            "run",
            str(suite),
            "--out",
            str(tmp_path / "out"),
            "--run-id",
            "r",
            "--quiet",
            env={"TTS_CANARY_KEY": CANARY},
        )
        sent_auth = [h.has_auth for h in srv.log]
    assert proc.returncode == 0, proc.stderr
    assert sent_auth and all(sent_auth)  # the key really was used on the wire...
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "records.jsonl" for p in files)
    for p in files:  # ...and never written anywhere
        assert CANARY.encode() not in p.read_bytes(), p
    assert CANARY not in proc.stdout + proc.stderr


ECHOED = "sk-echoed-c0ffee9d2b7a41e8"


@pytest.mark.parametrize("transport", ["direct", "litellm"])
def test_key_echoed_by_the_endpoint_is_masked_everywhere(tmp_path: Path, transport: str):
    """An endpoint that puts the key (and the Authorization header) into its 401 and 500
    bodies: the error messages are kept, the key is not, in no file and on no stream."""
    data = demo_suite()
    data["dataset"]["sample"]["size"] = 6
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "denied", "strategy": "single", "model": "openai/echo-401"},
    ]
    data["gates"] = []
    data["limits"] = {"concurrency": 4, "timeout_s": 5, "retries": 1, "max_retry_wait_s": 0.1}
    with ScriptedServer() as srv:
        data["defaults"] = {
            "model": "openai/echo-500",
            "api_base": srv.url,
            "api_key_env": "TTS_ECHO_KEY",
            "transport": transport,
            "temperature": 0.0,
            "max_tokens": 64,
        }
        suite = write_suite(tmp_path / "suite.yaml", data)
        proc = cli(
            "run",
            str(suite),
            "--out",
            str(tmp_path / "out"),
            "--run-id",
            "r",
            "--no-preflight",  # the run itself must meet the echoing endpoint
            env={"TTS_ECHO_KEY": ECHOED},
        )
        hits = set(srv.hits)
    assert hits == {"echo-401", "echo-500"}, hits  # both error bodies were really served
    run_dir = tmp_path / "out" / "r"
    names = {p.name for p in run_dir.rglob("*") if p.is_file()}
    assert {"calls.jsonl", "manifest.json"} <= names, names
    calls = (run_dir / "calls.jsonl").read_text()
    assert "Incorrect API key provided: ***" in calls  # the 401 echo, masked
    assert "Upstream failed: ***" in calls  # the 500 echo, masked
    for p in run_dir.rglob("*"):
        if p.is_file():
            assert ECHOED.encode() not in p.read_bytes(), p
            assert ECHOED[:12].encode() not in p.read_bytes(), p
    assert ECHOED not in proc.stdout + proc.stderr
    assert ECHOED[:12] not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("where", "url"),
    [
        ("config", "http://user:sk-secret@localhost:8000/v1"),
        ("config", "https://example.test/v1?key=sk-secret"),
        ("params", "http://:sk-secret@localhost:8000/v1"),
        ("defaults", "https://example.test/v1?api_key=sk-secret"),
        ("replicas", ["http://localhost:8001/v1", "http://u:sk-secret@localhost:8002/v1"]),
        ("scorer", "http://user:sk-secret@localhost:8000/v1"),
        ("config", "https://example.test/v1?subscription-key=sk-secret"),
        ("config", "https://example.test/v1#key=sk-secret"),
        ("params", "https://u:sk-secret@[malformed/v1"),
        ("base_url", "https://example.test/v1?sig=sk-secret"),
    ],
)
def test_a_url_with_credentials_is_refused_before_anything_is_written(
    tmp_path: Path, where: str, url: object
) -> None:
    """api_base is stored in the manifest as written: a key inside it would land in a file."""
    data = demo_suite()
    cfg = data["configs"][0]
    if where == "config":
        cfg["api_base"] = url
    elif where == "params":
        cfg["params"] = {"api_base": url}
    elif where == "defaults":
        data.setdefault("defaults", {})["api_base"] = url
    elif where == "replicas":
        cfg["api_base"] = url
    elif where == "base_url":
        cfg["params"] = {"base_url": url}
    else:
        data["scorer"] = {"type": "judge", "model": "sim/judge", "rubric": "r", "api_base": url}
    suite = write_suite(tmp_path / "suite.yaml", data)
    proc = cli("run", str(suite), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "credentials in a URL" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk-secret" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_plain_url_and_a_harmless_query_are_accepted() -> None:
    from tts_bench.suite import _check_api_base

    _check_api_base("http://localhost:8000/v1")
    _check_api_base(["http://localhost:8001/v1?api-version=2024-06-01", "http://h:8002/v1"])
