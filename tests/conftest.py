"""Shared test helpers: run the CLI as a user would, write small suites."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tts_bench.suite import read_yaml

ROOT = Path(__file__).resolve().parents[1]

# Tests never touch the network: the same offline switches the CLI sets.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `tts-bench ARGS` in a subprocess and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tts_bench.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def demo_suite(**overrides: Any) -> dict[str, Any]:
    """The demo suite as a dict, with top-level overrides."""
    data = read_yaml(ROOT / "suites" / "demo.yaml")
    data.update(overrides)
    return data


def write_suite(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def suite_file(tmp_path: Path):
    def make(**overrides: Any) -> Path:
        return write_suite(tmp_path / "suite.yaml", demo_suite(**overrides))

    return make
