"""Bad paths and damaged run directories: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli, demo_suite, write_suite


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-errors")
    suite = write_suite(tmp / "s.yaml", demo_suite())
    proc = cli(
        "run",
        str(suite),
        "--limit",
        "12",
        "--out",
        str(tmp),
        "--run-id",
        "r",
        "--quiet",
        "--no-report",
    )
    assert proc.returncode == 0, proc.stderr
    return tmp / "r"


def _one_line_exit_2(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_unwritable_output_paths(run_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_exit_2(cli("gate", str(run_dir), "--junit", str(blocker / "gate.xml")))
    assert "gate.xml" in line
    _one_line_exit_2(cli("compare", str(run_dir), str(run_dir), "-o", str(blocker / "c.html")))


@pytest.mark.parametrize("content", ["[]", '{"suite": "oops"}', "\xff\xfe"])
def test_damaged_manifest(run_dir, tmp_path, content):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("records.jsonl", "calls.jsonl"):
        (bad / name).write_bytes((run_dir / name).read_bytes())
    (bad / "manifest.json").write_bytes(content.encode("latin-1"))
    for args in (("report", str(bad)), ("gate", str(bad))):
        assert "manifest" in _one_line_exit_2(cli(*args))


def test_bad_gate_rule_in_manifest(run_dir, tmp_path):
    bad = tmp_path / "badgate"
    bad.mkdir()
    for name in ("records.jsonl", "calls.jsonl"):
        (bad / name).write_bytes((run_dir / name).read_bytes())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["suite"]["gates"] = [{"config": "sc", "metric": "accuracy"}]  # no bound
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert "suite.gates" in _one_line_exit_2(cli("gate", str(bad)))


def test_report_option_out_of_range_from_python(run_dir):
    from tts_bench.analysis import summarize
    from tts_bench.errors import UserError

    with pytest.raises(UserError, match="confidence"):
        summarize(run_dir, confidence=1.5)
    with pytest.raises(UserError, match="resamples"):
        summarize(run_dir, resamples=0)


@pytest.mark.parametrize(
    "change", [{"samples": 5}, {"strata": ["a"]}, {"latency_s": "abc"}, {"correct": "yes"}]
)
def test_records_with_wrong_types_are_one_line_errors(run_dir, tmp_path, change):
    bad = tmp_path / "badrec"
    bad.mkdir()
    (bad / "manifest.json").write_bytes((run_dir / "manifest.json").read_bytes())
    (bad / "calls.jsonl").write_bytes((run_dir / "calls.jsonl").read_bytes())
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    first = {**json.loads(lines[0]), **change}
    (bad / "records.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    for args in (("report", str(bad)), ("gate", str(bad))):
        line = _one_line_exit_2(cli(*args))
        assert next(iter(change)) in line
