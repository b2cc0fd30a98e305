"""Review export and import: what the page and the CSV show (and never show), the stratified
draw, and every way a labels file is refused with one `file:line` line (exit 2)."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from tts_bench.cli import main as entry
from tts_bench.errors import UserError
from tts_bench.review.export import export_review
from tts_bench.review.labels import import_labels, read_design, read_labels, unit_id
from tts_bench.review.synthetic import write_judged_run

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    rd, _ = write_judged_run(tmp_path, n_items=60, seed=1)
    # one output carries markup: the page must show it as text
    lines = (rd / "records.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["output"] = PAYLOAD
    lines[0] = json.dumps(rec)
    (rd / "records.jsonl").write_text("\n".join(lines) + "\n")
    return rd


@pytest.fixture
def main(capsys, monkeypatch):
    """`tts-bench ARGS` in this process: (exit code, stdout, stderr)."""

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tts-bench", *args])
        with pytest.raises(SystemExit) as stop:
            entry()
        out = capsys.readouterr()
        return stop.value.code, out.out, out.err

    return call


def _labels(path: Path, rows: list[list[str]], header=("unit", "item_id", "label")) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_export_is_blind_stratified_and_escaped(run: Path, tmp_path: Path) -> None:
    res = export_review(run, tmp_path / "review.html", size=20, by=["difficulty"], seed=3)
    page = res.page.read_text()
    rows = list(csv.DictReader(res.csv.open()))
    assert res.n_items == 20 and res.n_units == 40 == len(rows)
    assert all(r["label"] == "" for r in rows)
    # blind: no config name, no verdict, no judge label anywhere in the page or the CSV
    for text in (page, res.csv.read_text()):
        for secret in ('"single"', '"verbose"', '"correct"', '"votes"', "judge_pass"):
            assert secret not in text
    data = page.split('id="review-data">', 1)[1].split("</script>", 1)[0]
    assert "<script>" not in data and "<img" not in data  # JSON safe inside <script>
    assert "script-src 'unsafe-inline'" in page and "connect-src" not in page
    assert not re.search(r"(src|href)=\"https?:", page)
    # stratified: the design keeps population and allocation per stratum (hard is 40%)
    design = read_design(run)
    assert design["by"] == ["difficulty"]
    assert design["population"] == {"difficulty=easy": 36, "difficulty=hard": 24}
    assert design["allocated"] == {"difficulty=easy": 12, "difficulty=hard": 8}
    # shuffled: the same seed gives the same order, another seed another
    again = export_review(run, tmp_path / "again.html", size=20, by=["difficulty"], seed=3)
    other = export_review(run, tmp_path / "other.html", size=20, by=["difficulty"], seed=4)
    units = [r["unit"] for r in rows]
    assert [r["unit"] for r in csv.DictReader(again.csv.open())] == units
    assert [r["unit"] for r in csv.DictReader(other.csv.open())] != units


def test_import_round_trip_merge_and_replace(run: Path, tmp_path: Path) -> None:
    res = export_review(run, tmp_path / "review.html", size=10, by=[], seed=0)
    rows = list(csv.DictReader(res.csv.open()))
    first = _labels(tmp_path / "a.csv", [[r["unit"], r["item_id"], "pass"] for r in rows[:6]])
    out = import_labels(run, first)
    assert (out.added, out.total) == (6, 6)
    stored = read_labels(run)
    assert {x["label"] for x in stored} == {"pass"} and all(x["human_pass"] for x in stored)
    # merge: two changed, two new; the rest kept
    second = _labels(
        tmp_path / "b.csv",
        [[r["unit"], r["item_id"], "FAIL "] for r in rows[4:8]],
    )
    out = import_labels(run, second)
    assert (out.added, out.changed, out.total) == (2, 2, 8)
    assert sum(not x["human_pass"] for x in read_labels(run)) == 4
    # replace: only the new file's labels remain
    out = import_labels(run, second, replace=True)
    assert out.total == 4
    # item_id + config columns work as well as unit ids
    r0 = json.loads((run / "records.jsonl").read_text().splitlines()[0])
    by_name = _labels(
        tmp_path / "c.csv",
        [[r0["item_id"], r0["config"], "pass"]],
        header=("item_id", "config", "label"),
    )
    import_labels(run, by_name)
    assert any(x["item_id"] == r0["item_id"] and x["label"] == "pass" for x in read_labels(run))


def _unit(run: Path, n: int = 0) -> tuple[str, str]:
    r = json.loads((run / "records.jsonl").read_text().splitlines()[n])
    return unit_id(run.name, r["item_id"], r["config"]), r["item_id"]


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("unknown_unit", r"b\.csv:2: unknown review unit 'uffff'"),
        ("unknown_item", r"b\.csv:2: unknown item 'nope'"),
        ("unknown_config", r"b\.csv:2: unknown config 'gpt-9'"),
        ("bad_label", r"b\.csv:3: label 'maybe' is not on the scale \(pass / fail\)"),
        ("disagree", r"b\.csv:3: unit u[0-9a-f]+ labelled 'fail' here and 'pass' on line 2"),
        ("not_csv", r"b\.csv:1: not a labels CSV"),
        ("binary", r"b\.csv:1: not a CSV file"),
        ("too_many_cells", r"b\.csv:2: 5 cells, the header has 3"),
        ("empty", r"b\.csv: no labels"),
    ],
)
def test_import_refuses_bad_files(run: Path, tmp_path: Path, case: str, pattern: str, main) -> None:
    unit, item = _unit(run)
    unit2, item2 = _unit(run, 1)
    p = tmp_path / "b.csv"
    if case == "unknown_unit":
        _labels(p, [["uffff", item, "pass"]])
    elif case == "unknown_item":
        _labels(p, [["nope", "single", "pass"]], header=("item_id", "config", "label"))
    elif case == "unknown_config":
        _labels(p, [[item, "gpt-9", "pass"]], header=("item_id", "config", "label"))
    elif case == "bad_label":
        _labels(p, [[unit, item, "pass"], [unit2, item2, "maybe"]])
    elif case == "disagree":
        _labels(p, [[unit, item, "pass"], [unit, item, "fail"]])
    elif case == "not_csv":
        p.write_text('{"unit": "x", "label": "pass"}\n')
    elif case == "binary":
        p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    elif case == "too_many_cells":
        _labels(p, [[unit, item, "pass", "x", "y"]])
    elif case == "empty":
        _labels(p, [[unit, item, ""]])
    before = read_labels(run)
    with pytest.raises(UserError, match=pattern):
        import_labels(run, p)
    assert read_labels(run) == before  # nothing stored
    code, _, err = main("review", "import", str(run), str(p))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and re.search(pattern, lines[0]), err


def test_scale_one_to_five(tmp_path: Path) -> None:
    rd, _ = write_judged_run(tmp_path, n_items=10)
    man = json.loads((rd / "manifest.json").read_text())
    man["suite"]["scorer"] = {
        "type": "judge",
        "model": "sim/small",
        "rubric": "r",
        "scale": "1-5",
        "pass_at": 3,
    }
    (rd / "manifest.json").write_text(json.dumps(man))
    unit, item = _unit(rd)
    unit2, item2 = _unit(rd, 1)
    p = _labels(tmp_path / "l.csv", [[unit, item, "3"], [unit2, item2, "2"]])
    import_labels(rd, p)
    got = {x["label"]: x["human_pass"] for x in read_labels(rd)}
    assert got == {"3": True, "2": False}
    _labels(p, [[unit, item, "pass"]])
    with pytest.raises(UserError, match=r"l\.csv:2: label 'pass' is not on the scale \(1-5"):
        import_labels(rd, p)


def test_cli_export_and_import(run: Path, tmp_path: Path, main) -> None:
    out = tmp_path / "r.html"
    code, text, err = main("review", "export", str(run), "--size", "5", "-o", str(out))
    assert code == 0, err
    assert out.is_file() and out.with_suffix(".csv").is_file()
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    lab = _labels(tmp_path / "l.csv", [[r["unit"], r["item_id"], "fail"] for r in rows])
    code, text, err = main("review", "import", str(run), str(lab))
    assert code == 0 and "10 new" in text, err
    code, _, err = main("review", "export", str(run), "--by", "nope", "-o", str(out))
    assert code == 2 and "--by nope: not a strata column" in err


def test_gate_rules_on_corrected_figures() -> None:
    """The corrected metrics are known to the gate, in fractions, the delta judged on its CI."""
    from tts_bench.gate_rules import default_on, fmt, parse_rules

    rules = parse_rules(
        [
            {"metric": "corrected_accuracy", "min": 0.7},
            {"metric": "corrected_accuracy_delta", "min": -0.02},
        ],
        "rules",
    )
    assert [default_on(r) for r in rules] == ["point", "ci"]
    assert fmt("corrected_accuracy_delta", -0.02) == "-2.0 pts"
    assert fmt("corrected_accuracy", 0.7) == "70.0%"
    for bad in (
        {"metric": "corrected_accuracy", "min": 70},
        {"metric": "corrected_accuracy_delta", "min": -2},
    ):
        with pytest.raises(UserError, match="bounds are fractions"):
            parse_rules([bad], "rules")
