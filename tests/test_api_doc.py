"""docs/api.md's notebook runs as written: every ```python block, in order, in one namespace,
against a small simulated run named like the one the page uses."""

from __future__ import annotations

import re

import pandas as pd

from tests.conftest import ROOT
from tests.test_runs_cli import _tiny
from tts_bench import runner
from tts_bench.suite import parse

DOC = ROOT / "docs" / "api.md"


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_api_doc_notebook_runs(tmp_path, monkeypatch):
    code = blocks()
    assert len(code) >= 5, "docs/api.md lost its python cells"
    suite = parse(_tiny(size=8), "suite", ROOT / "suites")
    runner.run(suite, out_dir=tmp_path / "results", run_id="demo-run", use_cache=False)
    (tmp_path / "results" / "damaged").mkdir()  # skipped by the many-runs cell
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for i, cell in enumerate(code):
        exec(compile(cell, f"{DOC}:cell{i}", "exec"), ns)  # noqa: S102
    by_config = ns["by_config"]
    assert list(by_config.index) == ["single", "sc"]
    assert list(by_config["requests"]) == [8, 8]
    assert 0 <= by_config.loc["sc", "accuracy"] <= 1
    assert isinstance(ns["spend"], pd.DataFrame) and "sample" in ns["spend"].columns
    assert set(ns["all_records"]["run"]) == {"demo-run"}
