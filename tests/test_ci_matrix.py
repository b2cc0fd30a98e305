"""The sharded GitHub Actions workflow in docs/ci.md, run locally: each matrix value's shard
job in its own checkout, the artifacts copied where `upload-artifact` and `download-artifact`
put them, then the merge job's `run:` commands (merge, gate) on the simulator."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, write_suite
from tests.test_ci_workflow import BIN, _suite, store_baseline

_EXPR = re.compile(r"\$\{\{\s*(matrix|env)\.(\w+)\s*\}\}")


def workflow() -> dict[str, Any]:
    """The workflow block of docs/ci.md whose jobs run a matrix of shards."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "jobs:" in b]
    return yaml.safe_load(next(b for b in blocks if "matrix:" in b))


def expand(text: str, matrix: dict[str, Any], env: dict[str, str]) -> str:
    """`${{ matrix.X }}` and `${{ env.X }}` substituted as Actions would."""
    return _EXPR.sub(lambda m: str((matrix if m[1] == "matrix" else env)[m[2]]), text)


def job_env(wf: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ, **{k: str(v) for k, v in (wf.get("env") or {}).items()}}
    env.update({k: str(v) for k, v in (job.get("env") or {}).items() if "${{" not in str(v)})
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def upload(step: dict[str, Any], cwd: Path, store: Path, matrix: dict, env: dict) -> None:
    """upload-artifact@v4: the listed files under the artifact's name, relative to their
    least common ancestor."""
    name = expand(step["with"]["name"], matrix, env)
    paths = [cwd / p.strip() for p in expand(step["with"]["path"], matrix, env).splitlines()]
    found = [p for p in paths if p.exists()]
    if not found:
        return
    root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in found]))
    for p in found:
        dest = store / name / p.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if p.is_dir() else shutil.copy)(p, dest)


def download(step: dict[str, Any], cwd: Path, store: Path) -> None:
    """download-artifact@v4 with `pattern` and `path`: each artifact into `path/<name>/`."""
    for art in sorted(store.iterdir()):
        if fnmatch.fnmatch(art.name, step["with"]["pattern"]):
            shutil.copytree(art, cwd / step["with"]["path"] / art.name)


def run_job(
    wf: dict[str, Any], name: str, cwd: Path, store: Path, matrix: dict[str, Any] | None = None
) -> list[tuple[str, int, str]]:
    """The job's steps in order: `run:` commands in bash (pip install skipped: the package
    is installed here), artifact uploads and downloads simulated; after a failed step only
    `if: always()` steps run, as on Actions. Returns (command, exit, output) per command."""
    job, matrix = wf["jobs"][name], matrix or {}
    env = job_env(wf, job)
    out: list[tuple[str, int, str]] = []
    for step in job["steps"]:
        failed = any(code != 0 for _, code, _ in out)
        if failed and "always()" not in str(step.get("if", "")):
            continue
        uses = step.get("uses", "")
        if uses.startswith("actions/upload-artifact"):
            upload(step, cwd, store, matrix, env)
        elif uses.startswith("actions/download-artifact"):
            download(step, cwd, store)
        elif "run" in step and not step["run"].startswith("pip install"):
            cmd = expand(step["run"], matrix, env)
            proc = subprocess.run(
                ["bash", "-ec", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
            )
            out.append((cmd, proc.returncode, proc.stdout + proc.stderr))
    return out


def checkout(path: Path, with_baseline: bool = False) -> Path:
    (path / "suites").mkdir(parents=True)
    write_suite(path / "suites" / "support.yaml", _suite("sim/small"))
    if with_baseline:
        store_baseline(path, "sim/small")
    return path


@pytest.fixture(autouse=True)
def _needs_entry_point():
    if not (BIN / "tts-bench").exists():
        pytest.skip("the tts-bench console script is not installed in this environment")


def test_matrix_lists_every_shard_once():
    wf = workflow()
    shards = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(wf["env"]["SHARDS"]) + 1))
    assert wf["jobs"]["merge"]["needs"] == "shard"
    commands = [s.get("run", "") for s in wf["jobs"]["shard"]["steps"]]
    assert any("--shard ${{ matrix.shard }}/$SHARDS" in c for c in commands)


def test_matrix_workflow_runs_merges_and_gates(tmp_path):
    wf = workflow()
    store = tmp_path / "artifacts"
    store.mkdir()
    matrix = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]

    def shard_job(shard: int) -> list[tuple[str, int, str]]:
        return run_job(
            wf, "shard", checkout(tmp_path / f"shard-job-{shard}"), store, {"shard": shard}
        )

    with ThreadPoolExecutor(len(matrix)) as pool:  # the matrix's jobs at once, as on Actions
        done = list(pool.map(shard_job, matrix))
    for shard, steps in zip(matrix, done, strict=True):
        assert [code for _, code, _ in steps] == [0] * len(steps), steps
        man = json.loads((store / f"shard-{shard}" / "manifest.json").read_text())
        assert man["shard"]["index"] == shard and man["status"] == "complete"

    # one shard job lost: the merge step says which, in one line, and stops the job
    lost = tmp_path / "artifacts-lost"
    shutil.copytree(store, lost)
    shutil.rmtree(lost / "shard-2")
    cwd = checkout(tmp_path / "merge-job-lost")
    ((cmd, code, output),) = run_job(wf, "merge", cwd, lost)  # the gate step never runs
    assert cmd.startswith("tts-bench merge") and code == 2 and "shard 2/3 missing" in output
    assert output.count("\n") == 1

    cwd = checkout(tmp_path / "merge-job", with_baseline=True)
    steps = run_job(wf, "merge", cwd, store)
    assert [c.split()[1] for c, _, _ in steps] == ["merge", "gate"]
    assert [code for _, code, _ in steps] == [0, 0], steps
    merged = cwd / "results" / "candidate"
    man = json.loads((merged / "manifest.json").read_text())
    assert man["status"] == "complete" and man["item_count"] == 40
    assert len((merged / "records.jsonl").read_text().splitlines()) == 80
    assert (merged / "report.html").is_file() and (cwd / "gate.xml").is_file()
    assert 'failures="0"' in (cwd / "gate.xml").read_text()
