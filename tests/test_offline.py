"""Offline by default: the hub switches are set unless a suite asks for an hf: dataset, and
a user's own choice always wins."""

from __future__ import annotations

import os

import pytest

from tts_bench.llm import offline


@pytest.fixture
def clean_env(monkeypatch):
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "LITELLM_LOCAL_MODEL_COST_MAP"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(offline, "_HUB_SWITCHES", set())


def test_offline_by_default_and_never_fetch_prices(clean_env):
    offline.setup_offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_hf_suite_lifts_only_the_switches_we_set(clean_env, monkeypatch):
    offline.setup_offline_env()
    offline.setup_offline_env(allow_hub=True)
    assert "HF_HUB_OFFLINE" not in os.environ and "HF_DATASETS_OFFLINE" not in os.environ
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the user's own choice
    offline.setup_offline_env(allow_hub=True)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_help_imports_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys; from tts_bench import cli\n"
        "heavy = [m for m in ('litellm', 'pandas', 'matplotlib', 'datasets', 'scipy') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
