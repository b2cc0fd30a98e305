"""The report without a browser: formatting, summary.md, the item data blob, compare."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tts_bench import store
from tts_bench.report import fmt, render_markdown, write_compare, write_report
from tts_bench.report.compare import paired_delta
from tts_bench.report.html import render_html
from tts_bench.report.items import item_blob, script_json
from tts_bench.report.model import current_summary
from tts_bench.report.synthetic import write_synthetic_run
from tts_bench.report.verdict import facts


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = write_synthetic_run(tmp_path_factory.mktemp("r") / "run-a", items=48, configs=4, seed=1)
    write_report(d)
    return d


def test_missing_is_a_dash_never_zero() -> None:
    assert [fmt.pct(None), fmt.usd(None), fmt.secs(float("nan")), fmt.ratio(None)] == ["—"] * 4
    assert fmt.pct(0.0) == "0.0%" and fmt.usd(0) == "$0"
    assert fmt.pts(-1.25) == "−1.2" and fmt.pts(7.2) == "+7.2"
    assert fmt.usd(1.68e-5) == "$0.000017" and fmt.ratio(4.83) == "4.8×"


def test_summary_md_has_verdict_table_strata_routing(run: Path) -> None:
    md = (run / "summary.md").read_text()
    summary = json.loads((run / "summary.json").read_text())
    assert md == render_markdown(summary, store.read_manifest(run))
    for c in summary["configs"]:
        assert f"\n- {c['config']}" in md
        assert f"| {c['config']} |" in md
        if not c["is_baseline"]:
            d = c["delta"]["accuracy_points"]
            assert (
                f"- {c['config']}: {fmt.pts(d['value'])} pts (95% CI {fmt.pts(d['ci'][0])}.." in md
            )
    assert "**By stratum**" in md and "difficulty=hard" in md
    assert "**Routing** by `difficulty`" in md and "**Route difficulty:" in md


def test_summary_md_shows_unmeasured_as_not_measured(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    broken = copy.deepcopy(summary)
    target = next(c for c in broken["configs"] if not c["is_baseline"])
    target["delta"] = None
    target["cost"] = {"mean_usd": None, "total_usd": None}
    md = render_markdown(broken)
    line = next(x for x in md.splitlines() if x.startswith(f"- {target['config']}:"))
    assert "delta not measured" in line and "cost not measured" in line
    row = next(x for x in md.splitlines() if x.startswith(f"| {target['config']} |"))
    assert "—" in row and "$0" not in row and "+0.0" not in row


def test_partial_run_is_marked(tmp_path: Path) -> None:
    d = write_synthetic_run(tmp_path / "p", items=24, configs=2, status="interrupted")
    html = write_report(d).read_text()
    assert 'id="partial"' in html and "interrupted" in html
    assert "**Partial run**" in (d / "summary.md").read_text()


def test_item_blob_dedups_caps_and_escapes() -> None:
    out = "x" * 50 + "</script><!-- \u2028"
    recs = [
        {
            "item_id": "a",
            "config": "c",
            "strata": {"s": "v"},
            "target": "1",
            "answer": "1",
            "output": out,
            "correct": True,
            "failure": None,
            "cost_usd": None,
            "latency_s": 1.0,
        }
    ]
    calls = [
        {
            "item_id": "a",
            "config": "c",
            "role": "sample",
            "sample_index": 0,
            "model": "m",
            "cost_usd": None,
            "latency_s": 1.0,
            "status": "ok",
            "text": out,
        }
    ]
    blob = item_blob(recs, calls, ["c"], "c")
    assert len(blob["texts"]) == 1  # the call's text is the record's output
    cell = blob["items"][0][3][0]
    assert cell[3] is None  # unknown cost stays unknown
    s = script_json(blob)
    assert "</" not in s and "<!--" not in s
    assert json.loads(s) == blob
    capped = item_blob(recs, calls, ["c"], "c", max_text=20, text_budget=10**6)
    assert capped["texts"][0].startswith("x" * 20) and "more characters" in capped["texts"][0]
    many = [dict(recs[0], item_id=str(i), output=f"{i}" + "y" * 5000) for i in range(300)]
    tight = item_blob(many, [], ["c"], "c", text_budget=300_000)
    assert sum(len(t) for t in tight["texts"]) < 300_000 * 1.1


def test_html_is_self_contained(run: Path) -> None:
    html = (run / "report.html").read_text()
    import re

    # namespace names are identifiers, not fetches; anything else with a scheme would be
    assert not re.search(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", html))
    assert "<link" not in html and "src=" not in html and "@import" not in html
    assert html.count("<svg") >= 5


def test_paired_delta_matches_direct_computation(tmp_path: Path) -> None:
    a = write_synthetic_run(tmp_path / "a", items=60, configs=2, seed=1)
    b = write_synthetic_run(tmp_path / "b", items=50, configs=2, seed=2)
    ra = {r["item_id"]: r for r in store.load_records(a) if r["config"] == "single"}
    rb = {r["item_id"]: r for r in store.load_records(b) if r["config"] == "single"}
    d = paired_delta(ra, rb, resamples=2000)
    both = [
        i for i in ra if i in rb and ra[i]["correct"] is not None and rb[i]["correct"] is not None
    ]
    diff = np.array([float(rb[i]["correct"]) - float(ra[i]["correct"]) for i in both])
    assert d["n_common"] == 50 and d["n_paired"] == len(both)
    assert d["delta"] == pytest.approx(100 * diff.mean())
    assert d["delta_lo"] < d["delta"] < d["delta_hi"]
    se = 100 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert d["delta_hi"] - d["delta_lo"] == pytest.approx(2 * 1.96 * se, rel=0.25)


def test_compare_warns_on_mismatched_items(run: Path, tmp_path: Path) -> None:
    other = write_synthetic_run(tmp_path / "run-b", items=40, configs=3, seed=2)
    path, warns = write_compare([run, other], tmp_path / "compare.html")
    html = path.read_text()
    assert any("8 items only in run-a" in w for w in warns)
    assert any("configs not in both runs: large" in w for w in warns)
    assert html.count('class="sentence"') == 3 and html.count("<svg") >= 5
    assert "8 items only in run-a" in html


def test_compare_runs_without_common_items(run: Path, tmp_path: Path) -> None:
    other = write_synthetic_run(tmp_path / "run-c", items=10, configs=2, seed=3)
    for name in ("records.jsonl", "calls.jsonl"):
        p = other / name
        p.write_text(p.read_text().replace("arith-", "other-"))
    path, warns = write_compare([run, other], tmp_path / "c.html")
    assert any("no item in common" in w for w in warns)
    assert "no paired items" in path.read_text()


def _facts_block(html: str) -> str:
    return html[html.index('<h2 id="facts">') : html.index("</dl>")]


def test_run_facts_show_item_count_and_record_costs(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    man = store.read_manifest(run)
    block = _facts_block((run / "report.html").read_text())
    assert "built-in method" not in block and "<built-in" not in block
    assert f'<dd id="fact-items">{man["item_count"]} (difficulty: ' in block
    spend = fmt.usd(summary["meta"]["total_spend_usd"])
    assert f'<dd id="fact-spend">{spend}' in block
    md = (run / "summary.md").read_text()
    assert f"· {man['item_count']} items ·" in md and f"spend {spend}" in md


def test_imported_run_spend_is_the_records_cost_never_zero(run: Path, tmp_path: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    man = dict(store.read_manifest(run), status="imported", spent_usd=0.0)
    meta = summary["meta"]
    f = facts(man, summary)
    assert f["spend"] == pytest.approx(meta["total_spend_usd"]) and f["spend"] > 0
    assert f["spend_text"] == fmt.usd(meta["total_spend_usd"])
    some = copy.deepcopy(summary)
    some["meta"]["records_unknown_cost"] = 7
    assert facts(man, some)["spend_text"].endswith("(unknown for 7 records)")
    none_known = copy.deepcopy(summary)
    none_known["meta"].update(total_spend_usd=0.0, records_unknown_cost=meta["n_records"])
    assert facts(man, none_known)["spend_text"] == "not measured"
    none_known["meta"]["total_spend_usd"] = None
    assert facts(man, none_known)["spend_text"] == "not measured"
    html = render_html(none_known, man, [], [])
    assert '<dd id="fact-spend">not measured' in _facts_block(html)
    assert "spend not measured" in render_markdown(none_known, man)
    assert "$0" not in _facts_block(html)


def test_verdict_says_holm_and_not_saturated(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    c = next(
        copy.deepcopy(c) for c in summary["configs"] if not c["is_baseline"] and c["saturation"]
    )
    c["delta"].update(significant=False, p_holm=0.0912)
    sat = c["saturation"]
    k = sat["pool_size"]
    view = {"configs": [c], "meta": summary["meta"]}
    for flag, point, expect in (
        (None, k, f"; not saturated by N={k}"),  # fallback: point == pool size
        (None, 2, "; saturates at N=2"),
        (False, 2, f"; not saturated by N={k}"),  # the analysis' word wins
        (True, 2, "; saturates at N=2"),
    ):
        sat.pop("saturated", None)
        if flag is not None:
            sat["saturated"] = flag
        sat["saturation_point"] = point
        line = render_markdown(view).split(f"- {c['config']}: ")[1].splitlines()[0]
        assert ", not significant after Holm correction (p=0.091))" in line, line
        assert expect in line, (flag, point, line)
        assert ("saturates at" in line) == ("; saturates" in expect)


def test_baseline_ratios_are_dashes_when_its_figures_are_unknown(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    broken = copy.deepcopy(summary)
    base = next(c for c in broken["configs"] if c["is_baseline"])
    row = next(
        x for x in render_markdown(broken).splitlines() if x.startswith(f"| {base['config']} |")
    )
    assert row.count("1×") == 2
    base["cost"] = {"mean_usd": None, "total_usd": None, "n_unknown": base["n_items"]}
    base["latency"] = {"p50": None, "p95": None, "p99": None}
    row = next(
        x for x in render_markdown(broken).splitlines() if x.startswith(f"| {base['config']} |")
    )
    assert "1×" not in row
    html = render_html(broken, store.read_manifest(run), [], [])
    tr = html.split(f'<tr data-config="{base["config"]}">')[1].split("</tr>")[0]
    assert "1×" not in tr and tr.count('class="na">—') >= 4


def test_stale_summary_is_rewritten(tmp_path: Path) -> None:
    d = write_synthetic_run(tmp_path / "s", items=24, configs=2, seed=4)
    write_report(d)
    assert current_summary(d) is not None
    n = json.loads((d / "summary.json").read_text())["meta"]["n_records"]
    # a resume appends records after summary.json was written
    extra = [dict(r, item_id=r["item_id"] + "-b") for r in store.load_records(d)[:4]]
    with (d / "records.jsonl").open("a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in extra)
    t = (d / "records.jsonl").stat().st_mtime
    os.utime(d / "summary.json", (t - 5, t - 5))  # written before the resume
    assert current_summary(d) is None
    write_report(d)
    assert json.loads((d / "summary.json").read_text())["meta"]["n_records"] == n + 4
    assert current_summary(d) is not None
    os.utime(d / "manifest.json", (t + 5, t + 5))  # e.g. the status changed since
    assert current_summary(d) is None
    os.utime(d / "manifest.json", (t - 5, t - 5))
    (d / "summary.json").write_text("{not json")
    assert current_summary(d) is None
