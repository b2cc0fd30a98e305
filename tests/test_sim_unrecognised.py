"""Simulated models say when they cannot answer: prompts outside the built-in tasks are
counted where the simulated call happens, warned about, kept in the manifest and put in
place of a verdict in the report's facts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli, write_suite
from tts_bench import sim_coverage
from tts_bench.report.verdict import facts
from tts_bench.sim.model import simulate

QUESTIONS = [
    {"id": f"q{i}", "question": f"Which river flows through city number {i}?", "answer": "Nile"}
    for i in range(6)
]


def _suite(tmp_path: Path, source: str) -> Path:
    return write_suite(
        tmp_path / "own.yaml",
        {
            "name": "own",
            "dataset": {"source": source},
            "scorer": {"type": "exact"},
            "configs": [{"name": "base", "strategy": "single", "model": "sim/small"}],
        },
    )


def test_simulate_flags_what_it_recognises() -> None:
    builtin = (
        "A warehouse holds 10 chairs. Then 6 chairs are removed as damaged. The stock is "
        "doubled. How many chairs are in the warehouse at the end?"
    )
    for question, expected in ((builtin, True), ("Which river flows through Cairo?", False)):
        out = simulate(
            "sim/small", [{"role": "user", "content": question}], temperature=0, max_tokens=200
        )
        assert out.recognised is expected


def test_run_warns_and_records_unrecognised_prompts(tmp_path: Path) -> None:
    data = tmp_path / "own.jsonl"
    data.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    suite = _suite(tmp_path, str(data))
    line = "sim/small recognised 0 of 6 prompts: simulated models only solve the built-in tasks"
    results = tmp_path / "results"
    for run_id in ("first", "cached"):  # the second run's replies all come from the cache
        out = cli("run", str(suite), "--out", str(results), "--run-id", run_id, "--no-report")
        assert out.returncode == 0, out.stderr
        assert line in out.stderr
        manifest = json.loads((results / run_id / "manifest.json").read_text())
        assert manifest["sim_recognised"] == {"sim/small": {"recognised": 0, "seen": 6}}
        assert line in manifest["warnings"]
    assert manifest["sessions"][-1]["cache_hits"] == 6
    f = facts(manifest, {})
    assert f["unsolved"] == [line] and f["notes"][0] == line
    # the report says so in place of a verdict (page and summary.md)
    out = cli("report", str(results / "cached"))
    assert out.returncode == 0, out.stderr
    page = (results / "cached" / "report.html").read_text()
    verdict = page[
        page.index('id="verdict"') : page.index("</section>", page.index('id="verdict"'))
    ]
    assert 'class="unsolved"' in verdict and "No verdict" in verdict
    assert 'class="sentence"' not in verdict
    md = (results / "cached" / "summary.md").read_text()
    assert line in md and "No verdict" in md and "base (baseline)" not in md


def test_builtin_suite_is_recognised_and_says_nothing(tmp_path: Path) -> None:
    suite = _suite(tmp_path, "builtin:arithmetic")
    out = cli("run", str(suite), "--out", str(tmp_path / "results"), "--no-cache", "--limit", "6")
    assert out.returncode == 0, out.stderr
    assert "recognised" not in out.stdout + out.stderr
    (run_dir,) = [p for p in (tmp_path / "results").iterdir() if p.is_dir() and p.name[0] != "."]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sim_recognised"] == {"sim/small": {"recognised": 6, "seen": 6}}
    assert facts(manifest, {})["unsolved"] == []


def test_counts_add_up_over_sessions_and_threshold() -> None:
    manifest: dict = {}
    assert sim_coverage.record(manifest, {"sim/a": {"recognised": 3, "seen": 4}}) == [
        "sim/a recognised 3 of 4 prompts: simulated models only solve the built-in tasks"
    ]
    sim_coverage.record(manifest, {"sim/a": {"recognised": 1, "seen": 4}})
    assert manifest["sim_recognised"]["sim/a"] == {"recognised": 4, "seen": 8}
    assert sim_coverage.unsolved(manifest) == []  # half recognised: the verdict stands
    sim_coverage.record(manifest, {"sim/a": {"recognised": 0, "seen": 1}})
    assert sim_coverage.unsolved(manifest) == [
        "sim/a recognised 4 of 9 prompts: simulated models only solve the built-in tasks"
    ]
    assert sim_coverage.unsolved({"sim_recognised": "junk"}) == []
