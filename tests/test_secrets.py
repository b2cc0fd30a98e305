"""A canary API key in the environment must not reach any file a run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli, demo_suite, write_suite
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
