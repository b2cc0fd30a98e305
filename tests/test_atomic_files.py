"""Files `report`, `import`, `compare` and `gate --junit` write are whole or absent: a failure
while writing leaves the previous files intact and no temp file behind; `report` and an
import into an existing run take the run directory's lock; an import is all or nothing."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli, demo_suite
from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.fsutil import RunLock
from tts_bench.suite import parse

REPORT_FILES = ("summary.json", "recommended-policy.yaml", "report.html", "summary.md")


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run directory (the lock file's pid aside) with its bytes."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def assert_clean(folder: Path) -> None:
    """No temp file and no empty file anywhere below `folder`."""
    for p in folder.rglob("*"):
        assert not p.name.endswith(".tmp"), p
        if p.is_file() and p.name != ".lock":
            assert p.stat().st_size > 0, p


@pytest.fixture(scope="module")
def reported_runs(tmp_path_factory) -> Path:
    """Two small simulated runs of the same items, each with its report written."""
    from tts_bench.analysis import write_summary
    from tts_bench.report import write_report

    data = demo_suite()
    data["dataset"]["params"] = {"size": 60, "seed": 5}
    data["dataset"]["sample"] = {"size": 12, "by": ["difficulty"], "seed": 1}
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "sc", "strategy": "self_consistency", "n": 3, "temperature": 0.7},
    ]
    data["gates"] = [{"config": "sc", "metric": "accuracy_delta", "min": -1.0}]
    data["analysis"] = {"epsilon": 1.0, "resamples": 500}  # figures do not matter here
    out = tmp_path_factory.mktemp("runs")
    for run_id in ("a", "b"):
        runner.run(parse(data), out_dir=out, run_id=run_id, use_cache=False)
        write_summary(out / run_id)
        write_report(out / run_id)
    return out


@pytest.fixture
def run_dir(reported_runs: Path, tmp_path: Path) -> Path:
    """A private copy of run `a` (its report files included)."""
    import shutil

    dst = tmp_path / "a"
    shutil.copytree(reported_runs / "a", dst)
    return dst


def _touch_records(run_dir: Path) -> None:
    # records newer than summary.json: the report must recompute (and so rewrite) it
    st = (run_dir / "summary.json").stat()
    os.utime(run_dir / "records.jsonl", (st.st_atime + 5, st.st_mtime + 5))


def test_a_renderer_failure_leaves_the_previous_report(run_dir: Path, monkeypatch):
    from tts_bench.report import html, markdown, write_report

    before = snapshot(run_dir)
    assert all(before[f] for f in REPORT_FILES)
    inodes = {f: (run_dir / f).stat().st_ino for f in REPORT_FILES}

    def boom(*a, **k):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(html, "render_html", boom)
    with pytest.raises(RuntimeError):
        write_report(run_dir)
    monkeypatch.undo()
    # summary.md is rendered before either page is written: report.html stays as it was too
    monkeypatch.setattr(markdown, "render_markdown", boom)
    with pytest.raises(RuntimeError):
        write_report(run_dir)
    assert snapshot(run_dir) == before
    assert {f: (run_dir / f).stat().st_ino for f in REPORT_FILES} == inodes  # not replaced
    assert_clean(run_dir)


def test_a_full_disk_while_writing_leaves_whole_files(run_dir: Path, monkeypatch):
    from tts_bench import fsutil
    from tts_bench.analysis import write_summary
    from tts_bench.report import write_report

    _touch_records(run_dir)
    before = snapshot(run_dir)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", full)
    with pytest.raises(OSError):
        write_summary(run_dir)
    with pytest.raises(OSError):
        write_report(run_dir)
    assert snapshot(run_dir) == before
    assert_clean(run_dir)


def test_a_policy_failure_keeps_the_previous_policy(run_dir: Path, monkeypatch):
    import yaml

    from tts_bench.analysis import write_summary

    before = snapshot(run_dir)

    def boom(*a, **k):
        raise yaml.YAMLError("cannot represent")

    monkeypatch.setattr(yaml, "safe_dump", boom)
    with pytest.raises(yaml.YAMLError):
        write_summary(run_dir)
    after = snapshot(run_dir)
    assert after["recommended-policy.yaml"] == before["recommended-policy.yaml"]
    json.loads(after["summary.json"])  # rewritten whole, or not at all
    assert_clean(run_dir)


def test_report_on_a_locked_run_is_exit_2_and_writes_nothing(run_dir: Path):
    _touch_records(run_dir)
    before = snapshot(run_dir)
    with RunLock(run_dir):
        proc = cli("report", str(run_dir))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"error: run {run_dir} is in use (pid {os.getpid()})"
    assert "Traceback" not in proc.stderr
    assert snapshot(run_dir) == before
    assert_clean(run_dir)


def _limited(max_bytes: int):
    """preexec_fn: files may not grow past `max_bytes` (a full disk, for any writer)."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def _cli_limited(max_bytes: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tts_bench.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        preexec_fn=_limited(max_bytes),
    )


def test_a_full_disk_during_report_compare_and_junit(reported_runs, run_dir, tmp_path):
    _touch_records(run_dir)
    before = snapshot(run_dir)
    proc = _cli_limited(2000, "report", str(run_dir))
    assert proc.returncode == 2 and "File too large" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(run_dir) == before
    assert_clean(run_dir)

    # compare and gate read two runs whose summaries are current (nothing to refresh there)
    a, b = reported_runs / "a", reported_runs / "b"
    out = tmp_path / "out"
    out.mkdir()
    page, junit = out / "compare.html", out / "gate.xml"
    page.write_text("<html>the previous comparison</html>")
    junit.write_text('<?xml version="1.0"?><testsuites/>')
    old = snapshot(out)
    runs_before = snapshot(reported_runs)
    proc = _cli_limited(2000, "compare", str(a), str(b), "-o", str(page))
    assert proc.returncode == 2 and "File too large" in proc.stderr, proc.stderr
    proc = _cli_limited(50, "gate", str(a), "--junit", str(junit))
    assert proc.returncode == 2 and "File too large" in proc.stderr, proc.stderr
    assert snapshot(out) == old and snapshot(reported_runs) == runs_before
    assert_clean(out)
    # with room on the disk both are written
    assert cli("compare", str(a), str(b), "-o", str(page)).returncode == 0
    assert cli("gate", str(a), "--junit", str(junit)).returncode == 0
    assert b"<testsuite" in junit.read_bytes() and len(page.read_bytes()) > 2000
    assert_clean(out)


# -- import: all or nothing -----------------------------------------------------------------


def _pool(path: Path, n: int = 8, seed: int = 0, k: int = 3) -> Path:
    rows = []
    for i in range(n):
        target = 10 + i
        texts = [f"Final answer: {target + (j + seed) % 2}" for j in range(k)]
        rows.append({"id": f"q{i}", "target": str(target), "samples": texts})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    from tts_bench.importers import import_pools

    res = import_pools(
        _pool(tmp_path / "one.jsonl"), fmt="pool-jsonl", out=tmp_path / "r", config="one"
    )
    _pool(tmp_path / "two.jsonl", seed=1)
    return res.run_dir


@pytest.mark.parametrize("where", ["write_manifest", "check", "exchange"])
def test_an_import_failing_halfway_leaves_the_run_byte_identical(imported, monkeypatch, where):
    from tts_bench import store
    from tts_bench.importers import import_pools, rundir

    before = snapshot(imported)

    def boom(*a, **k):
        raise OSError(errno.EIO, "I/O error")

    if where == "write_manifest":  # calls and records are staged already
        monkeypatch.setattr(store, "write_manifest", boom)
    elif where == "check":  # the staged run does not read back
        real = store.load_records
        monkeypatch.setattr(store, "load_records", lambda d: real(d) if d == imported else boom())
    else:  # everything staged and checked; the swap itself fails
        monkeypatch.setattr(rundir, "exchange", boom)
    src = imported.parent / "two.jsonl"
    with pytest.raises(OSError):
        import_pools(src, fmt="pool-jsonl", out=imported, config="two")
    assert snapshot(imported) == before
    assert sorted(p.name for p in imported.parent.iterdir() if p.name.startswith(".r.")) == []
    monkeypatch.undo()
    res = import_pools(src, fmt="pool-jsonl", out=imported, config="two")
    assert {r["config"] for r in store.load_records(res.run_dir)} == {"one", "two"}


def test_a_new_import_that_fails_creates_no_run(tmp_path: Path, monkeypatch):
    from tts_bench import store
    from tts_bench.importers import import_pools

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "write_manifest", boom)
    with pytest.raises(OSError):
        import_pools(_pool(tmp_path / "p.jsonl"), fmt="pool-jsonl", out=tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p.jsonl"]


def test_import_into_a_locked_run_is_refused(imported):
    from tts_bench.importers import import_pools

    before = snapshot(imported)
    with RunLock(imported), pytest.raises(UserError, match=r"is in use \(pid \d+\)"):
        import_pools(imported.parent / "two.jsonl", fmt="pool-jsonl", out=imported, config="two")
    assert snapshot(imported) == before


KILL_AT = """
import os, signal, sys
from tts_bench.importers import import_pools, rundir

real = rundir.exchange
def exchange(a, b):
    if sys.argv[1] == "after":
        real(a, b)
    os.kill(os.getpid(), signal.SIGKILL)

rundir.exchange = exchange
import_pools(sys.argv[2], fmt="pool-jsonl", out=sys.argv[3], config="two")
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_around_the_swap(imported, when):
    """SIGKILL just before the swap: the run is as it was; just after: it has the whole new
    config. Either way the next import clears the staging directory left behind."""
    from tts_bench.importers import import_pools
    from tts_bench.store import load_records, read_manifest

    before = snapshot(imported)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT, when, str(imported.parent / "two.jsonl"), str(imported)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    stale = [p for p in imported.parent.iterdir() if p.name.startswith(".r.import-")]
    assert len(stale) == 1  # the killed import's staging directory
    configs = {c["name"] for c in read_manifest(imported)["configs"]}
    if when == "before":
        assert snapshot(imported) == before and configs == {"one"}
    else:
        assert configs == {"one", "two"}
        assert {r["config"] for r in load_records(imported)} == {"one", "two"}
    _pool(imported.parent / "three.jsonl", seed=2)
    import_pools(imported.parent / "three.jsonl", fmt="pool-jsonl", out=imported, config="three")
    assert not [p for p in imported.parent.iterdir() if p.name.startswith(".r.import-")]


def test_compare_only_reads_the_runs_it_compares(reported_runs, run_dir, tmp_path):
    """A stale summary of a compared run is recomputed in memory: compare takes no run's lock,
    so it writes nothing into the run directories (another process may own them)."""
    _touch_records(run_dir)
    before = snapshot(run_dir)
    page = tmp_path / "compare.html"
    proc = cli("compare", str(run_dir), str(reported_runs / "b"), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    assert page.stat().st_size > 2000
    assert snapshot(run_dir) == before
