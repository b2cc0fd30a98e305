"""The report says how its stars are corrected and how power was sized: Holm over every
config × stratum cell in the strata tables (with the family's size, intervals unadjusted),
Holm across configs in the summary table, and the exact McNemar power line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tts_bench.report import write_report
from tts_bench.report.synthetic import write_synthetic_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = write_synthetic_run(tmp_path_factory.mktemp("m") / "run-m", items=48, configs=4, seed=2)
    write_report(d)
    return d


def test_strata_stars_are_holm_over_the_whole_table(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    cells = [
        blk["delta"]
        for c in summary["configs"]
        if not c["is_baseline"]
        for vals in c["strata"].values()
        for blk in vals.values()
    ]
    m = summary["meta"]["multiplicity"]["strata"]["m"]
    assert m == sum(1 for d in cells if d["n_paired"]) and m > len(summary["configs"]) - 1
    assert {d["holm_family"] for d in cells} == {"configs_x_strata"}
    assert all(d["holm_m"] == m for d in cells)
    html = (run / "report.html").read_text()
    note = html.split('id="strata-note">')[1].split("</p>")[0]
    assert f"Holm correction over all {m} config × stratum cells" in note
    assert "intervals are unadjusted" in note
    assert "the 95% intervals are unadjusted" in html.split('id="summary-note">')[1]
    md = (run / "summary.md").read_text()
    assert f"Holm correction over all {m} config × stratum cells" in md


def test_power_line_names_the_exact_test(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    power = next(c["power"] for c in summary["configs"] if c["power"] and c["power"]["mde"])
    assert power["method"] == "exact_mcnemar" and 0 < power["discordance"] <= 1
    md = (run / "summary.md").read_text()
    assert "the exact McNemar test detects with 80% power" in md
    assert f"differ on {power['discordance']:.0%} of items" in md
