"""The GitHub Actions workflow in docs/ci.md, run locally: its `run:` commands in order, on
the simulator, once with a candidate that passes the gate and once with one that fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, demo_suite, write_suite
from tts_bench import runner
from tts_bench.suite import parse

BIN = Path(sys.executable).parent


def workflow() -> tuple[dict[str, str], list[str]]:
    """(job env, run commands) of the `gate` job of the workflow block in docs/ci.md."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "jobs:" in b)
    job = yaml.safe_load(block)["jobs"]["gate"]
    return dict(job.get("env") or {}), [s["run"] for s in job["steps"] if "run" in s]


def _suite(model: str) -> dict:
    data = demo_suite()
    data["dataset"]["sample"]["size"] = 40
    data["defaults"]["model"] = model
    data["configs"] = [{"name": "single", "strategy": "single"}, {"name": "cot", "strategy": "cot"}]
    data["analysis"] = {"resamples": 1000}
    data["gates"] = [
        {"config": "*", "metric": "accuracy_delta", "min": -0.02},
        {"config": "*", "metric": "p95_latency_s", "max": 60},
    ]
    return data


def _env() -> dict[str, str]:
    env_vars, _ = workflow()
    env = {**os.environ, **{k: str(v) for k, v in env_vars.items() if "${{" not in str(v)}}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def store_baseline(tmp: Path, model: str) -> None:
    """The stored baseline run a repository would commit: the suite on the production model."""
    shutil.rmtree(tmp / "baseline-run", ignore_errors=True)
    base = parse(_suite(model), "baseline suite", ROOT / "suites")
    runner.run(base, out_dir=tmp, run_id="baseline-run", use_cache=False)


def run_commands(tmp: Path, commands: list[str]) -> list[tuple[str, int, str]]:
    out = []
    for cmd in commands:
        if cmd.startswith("pip install"):
            continue  # the package is installed in this environment already
        proc = subprocess.run(
            ["bash", "-ec", cmd], cwd=tmp, env=_env(), capture_output=True, text=True, timeout=300
        )
        out.append((cmd, proc.returncode, proc.stdout + proc.stderr))
    return out


@pytest.fixture(autouse=True)
def _needs_entry_point():
    if not (BIN / "tts-bench").exists():
        pytest.skip("the tts-bench console script is not installed in this environment")


def test_workflow_has_the_documented_steps():
    env, commands = workflow()
    assert "SUITE" in env
    assert any(c.startswith("tts-bench run") for c in commands)
    gate = next(c for c in commands if c.startswith("tts-bench gate"))
    for flag in ("--against baseline-run", "--junit gate.xml", "--markdown"):
        assert flag in gate


def test_workflow_fails_a_downgrade_and_passes_an_unchanged_model(tmp_path):
    # a checkout: the suite (the PR moved it to the candidate model) and the stored baseline
    (tmp_path / "suites").mkdir()
    write_suite(tmp_path / "suites" / "support.yaml", _suite("sim/small"))
    store_baseline(tmp_path, "sim/large")
    _, commands = workflow()
    steps = run_commands(tmp_path, commands)
    *before, (gate_cmd, gate_code, gate_out) = steps
    assert [code for _, code, _ in before] == [0] * len(before), before
    assert (tmp_path / "results" / "candidate" / "records.jsonl").exists()
    assert (tmp_path / "results" / ".cache").is_dir()  # what actions/cache keeps between runs
    assert gate_cmd.startswith("tts-bench gate") and gate_code == 1, gate_out
    assert "tts-bench gate: FAIL" in gate_out
    assert "<failure" in (tmp_path / "gate.xml").read_text()

    # the stored baseline is the candidate's own model: no accuracy lost, the gate passes
    store_baseline(tmp_path, "sim/small")
    ((_, code, out),) = run_commands(tmp_path, [gate_cmd])
    assert code == 0, out
    xml = (tmp_path / "gate.xml").read_text()
    assert 'failures="0"' in xml and xml.count("<testcase") == 4
