"""compare pairs two runs on the scorer's own value: F1 for set answers, as report.html does."""

from __future__ import annotations

import pytest

from tts_bench import runner
from tts_bench.analysis import summarize
from tts_bench.report.compare import _by_config, paired_delta
from tts_bench.suite import load


def test_compare_uses_f1_like_the_report(tmp_path):
    suite = load("suites/contracts.yaml")
    suite.configs = [c for c in suite.configs if c.name in ("single", "cot")]
    suite.baseline = "single"
    suite.gates = []
    a = runner.run(suite, out_dir=tmp_path, run_id="a", limit=30, use_cache=False)
    b = runner.run(suite, out_dir=tmp_path, run_id="b", limit=30, use_cache=False)
    ra, rb = _by_config(a.records), _by_config(b.records)
    d = paired_delta(ra["single"], rb["cot"], resamples=500)
    summary = summarize(tmp_path / "b", resamples=500)
    cot = next(c for c in summary["configs"] if c["config"] == "cot")
    assert d["acc_b"] == pytest.approx(cot["accuracy"]["value"])  # F1, not exact-set match
    single = next(c for c in summary["configs"] if c["config"] == "single")
    assert d["acc_a"] == pytest.approx(single["accuracy"]["value"])
