"""Bad paths and damaged run directories: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

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


@pytest.fixture
def main(capsys, monkeypatch):
    """`tts-bench ARGS` in this process (the entry point's `main`): a CompletedProcess-like
    object with the exit code and stderr, as `cli` gives, without a new interpreter."""
    from tts_bench.cli import main as entry

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "argv", ["tts-bench", *args])
        with pytest.raises(SystemExit) as stop:
            entry()
        err = capsys.readouterr().err
        return subprocess.CompletedProcess(args, stop.value.code, "", err)

    return call


def test_unwritable_output_paths(run_dir, tmp_path, main):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_exit_2(cli("gate", str(run_dir), "--junit", str(blocker / "gate.xml")))
    assert "gate.xml" in line
    _one_line_exit_2(main("compare", str(run_dir), str(run_dir), "-o", str(blocker / "c.html")))


@pytest.mark.parametrize("content", ["[]", '{"suite": "oops"}', "\xff\xfe"])
def test_damaged_manifest(run_dir, tmp_path, content, main):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("records.jsonl", "calls.jsonl"):
        (bad / name).write_bytes((run_dir / name).read_bytes())
    (bad / "manifest.json").write_bytes(content.encode("latin-1"))
    for args in (("report", str(bad)), ("gate", str(bad))):
        assert "manifest" in _one_line_exit_2(main(*args))


def test_bad_gate_rule_in_manifest(run_dir, tmp_path, main):
    bad = tmp_path / "badgate"
    bad.mkdir()
    for name in ("records.jsonl", "calls.jsonl"):
        (bad / name).write_bytes((run_dir / name).read_bytes())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["suite"]["gates"] = [{"config": "sc", "metric": "accuracy"}]  # no bound
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert "suite.gates" in _one_line_exit_2(main("gate", str(bad)))


def test_report_option_out_of_range_from_python(run_dir):
    from tts_bench.analysis import summarize
    from tts_bench.errors import UserError

    with pytest.raises(UserError, match="confidence"):
        summarize(run_dir, confidence=1.5)
    with pytest.raises(UserError, match="resamples"):
        summarize(run_dir, resamples=0)


@pytest.mark.parametrize(
    "change",
    [
        {"samples": 5},
        {"strata": ["a"]},
        {"latency_s": "abc"},
        {"correct": "yes"},
        {"status": ["ok"]},
        {"confidence": 5},
        {"strata": {"difficulty": ["hard"]}},
        {"samples": [{"answer": 5}]},
        {"cluster": {"a": 1}},
    ],
)
def test_records_with_wrong_types_are_one_line_errors(run_dir, tmp_path, change, main):
    bad = tmp_path / "badrec"
    bad.mkdir()
    (bad / "manifest.json").write_bytes((run_dir / "manifest.json").read_bytes())
    (bad / "calls.jsonl").write_bytes((run_dir / "calls.jsonl").read_bytes())
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    first = {**json.loads(lines[0]), **change}
    (bad / "records.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    for args in (("report", str(bad)), ("gate", str(bad))):
        line = _one_line_exit_2(main(*args))
        assert next(iter(change)) in line


def _copy(run_dir, dest):
    dest.mkdir()
    for name in ("manifest.json", "records.jsonl", "calls.jsonl"):
        (dest / name).write_bytes((run_dir / name).read_bytes())
    return dest


def test_a_torn_last_line_is_skipped_even_mid_character(run_dir, tmp_path):
    """A crash mid-write leaves a last line without its newline, perhaps cut inside a UTF-8
    character: readers skip it; the same bytes followed by a newline are an error."""
    from tts_bench.errors import UserError
    from tts_bench.store import load_calls, load_records

    bad = _copy(run_dir, tmp_path / "torn")
    n_records, n_calls = len(load_records(bad)), len(load_calls(bad))
    for name in ("records.jsonl", "calls.jsonl"):
        with (bad / name).open("ab") as fh:
            fh.write(b'{"item_id": "caf\xc3')
    assert (len(load_records(bad)), len(load_calls(bad))) == (n_records, n_calls)
    with (bad / "records.jsonl").open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(UserError, match=r"records\.jsonl:\d+: not UTF-8 text"):
        load_records(bad)


def test_only_the_winning_line_of_a_pair_is_checked(run_dir, tmp_path):
    """An earlier attempt of a pair (superseded by a later line) is not what the report uses."""
    from tts_bench.store import load_records

    bad = _copy(run_dir, tmp_path / "stale")
    lines = (bad / "records.jsonl").read_text().splitlines()
    stale = {**json.loads(lines[0]), "latency_s": -1.0}
    (bad / "records.jsonl").write_text("\n".join([json.dumps(stale), *lines]) + "\n")
    assert all(r["latency_s"] >= 0 for r in load_records(bad))


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"configs": "single"}, "`configs` must be a list"),
        ({"configs": [{"strategy": "single"}]}, "`configs` must hold objects with a `name`"),
        ({"strata_counts": {"difficulty": {"easy": "4"}}}, "strata_counts.difficulty"),
        ({"item_count": -1}, "`item_count` must not be negative"),
        ({"spent_usd": "x"}, "`spent_usd` must be int or float"),
        ({"sessions": [1]}, "`sessions` must hold objects"),
        ({"status": 3}, "`status` must be str"),
        ({"suite": {"scorer": "numeric"}}, "`suite.scorer` must be an object"),
    ],
)
def test_manifest_fields_of_the_wrong_type(run_dir, tmp_path, change, fragment):
    from tts_bench.errors import UserError
    from tts_bench.store import read_manifest

    bad = _copy(run_dir, tmp_path / "m")
    manifest = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**manifest, **change}))
    with pytest.raises(UserError, match="manifest.json: ") as err:
        read_manifest(bad)
    assert fragment in str(err.value)
