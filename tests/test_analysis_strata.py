"""The display order of strata values: the manifest's dataset order, else natural order
(numeric, a known ordinal scale, else alphabetical), everywhere summary.json lists them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.analysis_fixtures import Cfg, edit_records, make_run
from tts_bench.analysis import summarize
from tts_bench.analysis.strata import stratum_order


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["hard", "easy", "medium", "hard"], ["easy", "medium", "hard"]),
        (["High", "low", "Medium"], ["low", "Medium", "High"]),
        (["10", "2", "1.5"], ["1.5", "2", "10"]),
        (["beta", "", "alpha"], ["alpha", "beta", ""]),  # not a scale: alphabetical, "" last
        (["easy", "high"], ["easy", "high"]),  # two scales mixed: no scale, alphabetical
    ],
)
def test_natural_order_without_a_manifest(values: list[str], want: list[str]) -> None:
    assert stratum_order(values) == want
    assert stratum_order(values, {"strata_counts": {}}, "difficulty") == want


def test_manifest_order_first_then_the_rest() -> None:
    man = {"strata_counts": {"difficulty": {"hard": 3, "absent": 1, "easy": 2}}}
    got = stratum_order(["easy", "medium", "hard", "zz"], man, "difficulty")
    assert got == ["hard", "easy", "medium", "zz"]  # "absent" has no record: left out
    assert stratum_order(["b", "a"], {"strata_counts": "garbled"}, "x") == ["a", "b"]


def _three_strata(tmp_path: Path) -> Path:
    cfgs = [
        Cfg("single", {"easy": 0.8, "hard": 0.4}),
        Cfg("sc", {"easy": 0.75, "hard": 0.45}, pool=4, knobs={"n": [1, 2, 4]}),
    ]
    run = make_run(tmp_path, n_items=60, configs=cfgs, infra_rate=0.0)

    def medium(rec: dict[str, Any]) -> dict[str, Any]:
        if rec["item_id"] < "q00010":  # ten of the hard items (the first 40%)
            rec["strata"] = {"difficulty": "medium"}
        return rec

    edit_records(run, medium)
    return run


def _orders(s: dict[str, Any]) -> list[list[str]]:
    cfg = next(c for c in s["configs"] if c["config"] == "sc")
    return [
        list(s["meta"]["item_counts"]["difficulty"]),
        list(cfg["strata"]["difficulty"]),
        list(cfg["saturation"]["by_stratum"]["difficulty"]),
        list(s["routing"]["routes"]),
    ]


def test_summary_uses_natural_order_without_strata_counts(tmp_path: Path) -> None:
    s = summarize(_three_strata(tmp_path), resamples=50)
    assert _orders(s) == [["easy", "medium", "hard"]] * 4  # not alphabetical (hard < medium)


def test_summary_uses_the_manifests_dataset_order(tmp_path: Path) -> None:
    run = _three_strata(tmp_path)
    path = run / "manifest.json"
    man = json.loads(path.read_text())
    man["strata_counts"] = {"difficulty": {"hard": 14, "easy": 36, "medium": 10}}
    path.write_text(json.dumps(man))
    s = summarize(run, resamples=50)
    assert _orders(s) == [["hard", "easy", "medium"]] * 4
    assert s["meta"]["item_counts"]["difficulty"] == {"hard": 14, "easy": 36, "medium": 10}
