"""The report without a browser: formatting, summary.md, the item data blob, compare."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tts_bench import store
from tts_bench.errors import UserError
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
    assert "**Routing** by `difficulty`" in md and "Route difficulty:" in md
    # the pooled config as run sits next to its pool points: it is labelled at its N
    assert "| best single: sc@9 |" in md or "→ sc@9" in md or "| sc@9 |" in md
    assert "→ sc," not in md and "→ sc:" not in md
    assert "N “—”: not applicable (no sample pool)" in md


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


def test_compare_runs_without_common_items_is_a_user_error(run: Path, tmp_path: Path) -> None:
    from tests.conftest import cli

    other = write_synthetic_run(tmp_path / "run-c", items=10, configs=2, seed=3)
    for name in ("records.jsonl", "calls.jsonl"):
        p = other / name
        p.write_text(p.read_text().replace("arith-", "other-"))
    with pytest.raises(UserError, match="no item in common") as err:
        write_compare([run, other], tmp_path / "c.html")
    assert "\n" not in str(err.value)
    proc = cli("compare", str(run), str(other), "-o", str(tmp_path / "c.html"))
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: compare: ") and "no item in common" in lines[0]
    assert not (tmp_path / "c.html").exists()


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
    man = dict(store.read_manifest(run), status="imported", spent_usd=0.0, simulated=False)
    summary["meta"]["simulated"] = False
    meta = summary["meta"]
    f = facts(man, summary)
    assert f["spend"] == pytest.approx(meta["total_spend_usd"]) and f["spend"] > 0
    assert f["spend_text"] == fmt.usd(meta["total_spend_usd"])
    some = copy.deepcopy(summary)
    some["meta"]["records_unknown_cost"] = 7
    assert facts(man, some)["spend_text"].endswith(" (unknown for 7 records)")
    sim = facts(dict(man, simulated=True), some)["spend_text"]
    assert sim.endswith(" (simulated; unknown for 7 records)"), sim
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
    sat["epsilon_points"] = 1.0
    sat["remaining_gain_points"] = {"value": 0.9, "ci": [0.1, 1.76]}
    # a summary without `verdict` (written before verdicts carried their intervals)
    verdict = sat.pop("verdict")
    for flag, point, expect in (
        (None, k, f"; still rising at N={k}"),  # fallback: point == pool size
        (None, 2, "; saturates at N=2"),
        # the analysis' word wins: levelled off, but the CI leaves room for more than ε
        (False, 2, "; levels off near N=2 (+0.9 pts left, CI up to +1.8 > ε 1.0: not confirmed)"),
        (False, k, f"; still rising at N={k}"),
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
    sat.update(saturated=False, remaining_gain_points={"value": 0.0, "ci": [None, None]})
    line = render_markdown(view).split(f"- {c['config']}: ")[1].splitlines()[0]
    assert "; levels off near N=2 (+0.0 pts left, CI not measured: not confirmed)" in line
    # with a verdict, every curve claim carries its interval
    assert verdict in {"levels_off", "still_rising", "may_still_rise", "not_rising", "unmeasured"}
    sat["fall_points"] = {"value": 1.24, "ci": [0.4, 2.0], "pairs": [[1, k], [1, k]]}
    for v, frm, ci, falls, expect in (
        (
            "levels_off",
            3,
            [-0.3, 0.7],
            False,
            f"; levels off near N=3 (+0.2 pts left up to N={k}, 95% CI −0.3..+0.7, within ε 1.0)",
        ),
        (
            "still_rising",
            2,
            [0.6, 3.0],
            False,
            f"; still rising (+0.2 pts from N=2 to N={k}, 95% CI +0.6..+3.0)",
        ),
        (
            "may_still_rise",
            2,
            [-0.4, 1.6],
            True,
            f"; may still rise (+0.2 pts from N=2 to N={k}, 95% CI −0.4..+1.6) (falls by 1.2 pts along N, 95% CI +0.4..+2.0)",
        ),
        ("unmeasured", None, [None, None], False, "; curve over N=1.."),
    ):
        sat.update(verdict=v, saturation_point=3, falls=falls, saturated=v == "levels_off")
        sat["remaining_gain_points"] = {"value": 0.2, "ci": ci, "from": frm, "to": k}
        line = render_markdown(view).split(f"- {c['config']}: ")[1].splitlines()[0]
        assert line.endswith(expect) if v != "unmeasured" else expect in line, (v, line)
        assert ("falls by" in line) == falls
        assert ("levels off" in line) == (v == "levels_off")


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


def _view(run: Path) -> tuple[dict, dict]:
    return json.loads((run / "summary.json").read_text()), store.read_manifest(run)


def _routing_line(md: str) -> str:
    return next(x for x in md.splitlines() if "Route difficulty:" in x)


def test_routing_is_bold_only_with_a_demonstrated_gain(run: Path) -> None:
    summary, man = _view(run)
    best = summary["routing"]["best_single"]["label"]
    label = {"sc": "sc@9"}.get(best, best)
    for ci, bold, tail in (
        ([-1.6, 1.4], False, f": no demonstrated gain over {label}."),
        ([None, None], False, f": no demonstrated gain over {label}."),
        ([0.0, 0.0], False, f": no demonstrated gain over {label}."),
        ([-4.0, -0.5], False, f": worse than {label}."),
        ([0.4, 3.1], True, "out of sample, 5-fold cross-fitted)."),
    ):
        s = copy.deepcopy(summary)
        s["routing"]["routed_vs_single"] = {
            "accuracy_points": {"value": -0.1 if not ci[0] else (ci[0] + ci[1]) / 2, "ci": ci},
            "n_paired": 48,
            "cost_ratio": 0.7,
        }
        md = render_markdown(s, man)
        line = _routing_line(md)
        assert line.startswith("**") == bold, line
        assert "; routed − best single: " in line and line.rstrip("*").endswith(tail), line
        if ci[0] is not None:
            assert f"(95% CI {fmt.pts(ci[0])}..{fmt.pts(ci[1])}; out of sample" in line
        html = render_html(s, man, [], [])
        div = html.split('id="routing-sentence"')[0].rsplit("<div", 1)[1]
        assert ("recommended" in div) == bold


def test_pooled_config_as_run_is_labelled_at_its_n(run: Path) -> None:
    summary, man = _view(run)
    s = copy.deepcopy(summary)
    route = next(iter(s["routing"]["routes"].values()))
    route.update(label="sc", config="sc", n=None, best_label="sc")
    s["routing"]["best_single"].update(label="sc", config="sc", n=None)
    md = render_markdown(s, man)
    value = next(iter(s["routing"]["routes"]))
    assert f"{value} → sc@9" in _routing_line(md) and "best single config sc@9" in md
    assert f"| {value} | sc@9 |" in md and "| best single: sc@9 |" in md
    # without pool points next to it, a config keeps its plain name
    s["frontier"] = [p for p in s["frontier"] if not p.get("n")]
    assert f"{value} → sc," in _routing_line(render_markdown(s, man)) or f"{value} → sc:" in (
        _routing_line(render_markdown(s, man))
    )


def _f1(summary: dict) -> dict:
    """The summary of a set_f1 suite: metric f1 with recall, miss rate and exact accuracy."""
    s = copy.deepcopy(summary)
    s["meta"]["metric"] = "f1"
    for i, c in enumerate(s["configs"]):
        c.update(recall=0.66 + 0.07 * i, miss_rate=0.34 - 0.07 * i, exact_accuracy=0.41 + 0.05 * i)
    return s


def test_f1_suites_show_recall_miss_rate_and_not_exact(run: Path) -> None:
    summary, man = _view(run)
    s = _f1(summary)
    md = render_markdown(s, man)
    head = next(x for x in md.splitlines() if x.startswith("| config |"))
    for col in ("| recall |", "| miss rate |", "| exact set |", "| not exact |"):
        assert col in head, head
    assert "model fail" not in head and "“not exact” is the share of requests" in md
    base, other = s["configs"][0], s["configs"][1]
    assert f"- {base['config']} (baseline): " in md and ", miss rate 34.0%" in md
    line = next(x for x in md.splitlines() if x.startswith(f"- {other['config']}: "))
    assert ", miss rate 34.0% → 27.0%" in line, line
    row = next(x for x in md.splitlines() if x.startswith(f"| {other['config']} |"))
    assert "| 73.0% | 27.0% | 46.0% |" in row, row
    html = render_html(s, man, [], [])
    table = html.split('id="summary-table">')[1].split("</table>")[0]
    heads = table.split("</thead>")[0]
    assert "<th>recall</th><th>miss rate</th><th>exact set</th>" in heads
    assert "<th>not exact</th>" in heads and "model failures" not in heads
    assert "Wilcoxon" in html.split('id="summary-note">')[1].split("</p>")[0]
    # an accuracy suite has none of these
    plain = render_markdown(summary, man)
    assert "miss rate" not in plain and "| model fail |" in plain


def test_summary_table_merges_latency_and_adds_tokens(run: Path) -> None:
    summary, man = _view(run)
    html = render_html(summary, man, [], [])
    table = html.split('id="summary-table">')[1].split("</table>")[0]
    heads = table.split("</thead>")[0]
    assert heads.count("<th>") == 13  # was 15: P50/P95/P99 merged, P50 × dropped, tokens added
    assert "<th>P50 / P95 / P99</th>" in heads and "P50 ×" not in heads
    sc = next(c for c in summary["configs"] if c["config"] == "sc")
    lat = sc["latency"]
    cell = fmt.latencies(lat["p50"]["value"], lat["p95"]["value"], lat["p99"]["value"])
    tr = table.split('<tr data-config="sc">')[1].split("</tr>")[0]
    assert f'<td data-v="{lat["p95"]["value"]}">{cell}</td>' in tr  # sorts on P95
    t = sc["tokens"]
    assert fmt.tokens(t["input_mean"], t["output_mean"], t["reasoning_mean"], 9.0) == (
        "540 / 1,080 / 0 tok · 9 calls"
    )
    assert '<span class="nw">540 / 1,080 / 0 tok</span> · <span class="nw">9 calls</span>' in tr
    md = render_markdown(summary, man)
    assert "| 540 / 1,080 / 0 tok · 9 calls |" in md


def test_one_item_pool_with_null_cis_renders(run: Path) -> None:
    """A run stopped by --max-cost after ~1 pooled item: every curve CI is null."""
    from tts_bench.report import plots

    summary, man = _view(run)
    s = copy.deepcopy(summary)
    sc = next(c for c in s["configs"] if c["config"] == "sc")
    sat = sc["saturation"]
    k = sat["pool_size"]
    for curve in sat["curves"].values():
        if isinstance(curve, dict) and "ci_low" in curve:
            curve.update(ci_low=[None] * k, ci_high=[None] * k)
    sat["curves"]["pass_at_k"]["mean"] = [None] * k
    sat["curves"]["majority"]["mean"][3] = None
    sat.update(n_items=1, saturation_point=1, saturated=False, verdict="unmeasured")
    sat["remaining_gain_points"] = {"value": None, "ci": [None, None], "from": None, "to": k}
    html = render_html(s, man, [], [])
    svg = html.split('id="plot-saturation">')[1].split("</figure>")[0]
    assert "<svg" in svg and "No config kept" not in svg
    # the band is skipped, the curve drawn: no fill path for sc's colour
    only = plots.saturation([{"label": "", "configs": [_cfg(sc)], "pareto": []}])
    assert "<svg" in only and "fill-opacity: 0.15" not in only
    banded = next(c for c in summary["configs"] if c["config"] == "sc")
    assert "fill-opacity: 0.15" in plots.saturation(
        [{"label": "", "configs": [_cfg(banded)], "pareto": []}]
    )
    assert f"; curve over N=1..{k}: too few items for a verdict" in (render_markdown(s, man))


def _cfg(entry: dict) -> dict:
    from tts_bench.report.model import build

    return next(
        c
        for c in build({"meta": {}, "configs": [entry]}, {})["configs"]
        if c["name"] == entry["config"]
    )


def test_nulls_everywhere_render_as_dashes(run: Path) -> None:
    """What the analysis may leave null: latency quantiles (some latencies unknown), the
    power MDE (sd 0 or few items), saturation (adaptive configs), token means."""
    summary, man = _view(run)
    s = copy.deepcopy(summary)
    for c in s["configs"]:
        for q in ("p50", "p95", "p99"):
            c["latency"][q] = {"value": None, "ci": [None, None]}
        if c.get("power"):
            c["power"].update(mde=None, sd_d=None, n_for_target=None, power=None, alpha=None)
        c["tokens"] = {"input_mean": None, "output_mean": None, "reasoning_mean": None}
        c["calls_per_request"] = None
        c["saturation"] = None
        if c.get("delta"):
            c["delta"]["latency_p95_ratio"] = {"value": None, "ci": [None, None], "n": 0}
    for p in s["frontier"]:
        p["latency_p95_s"] = None
    s["routing"]["routed"]["latency_p95_s"] = None
    s["routing"]["routed_vs_single"] = None
    html = render_html(s, man, [], [])
    md = render_markdown(s, man)
    row = next(x for x in md.splitlines() if x.startswith("| single |"))
    assert "| — | 1× |" not in row and row.count("—") >= 4, row
    assert "not measured" in _facts_block(html).split("power")[1]
    tr = html.split('<tr data-config="sc">')[1].split("</tr>")[0]
    assert '<td data-v="" class="wrap"><span class="nw">—</span></td>' in tr
    assert '<td data-v="">—</td>' in tr  # P50 / P95 / P99
    # a power block with an MDE but null knobs still reads
    s["configs"][1]["power"] = {"n": None, "mde": 7.0, "power": None, "alpha": None}
    assert "about 7.0 pts" in render_markdown(s, man)


def test_strata_keep_the_summary_order(run: Path) -> None:
    summary, man = _view(run)
    s = copy.deepcopy(summary)
    order = ["hard", "easy", "medium"]
    for c in s["configs"]:
        vals = c["strata"]["difficulty"]
        c["strata"]["difficulty"] = {v: vals[v] for v in order}
    md = render_markdown(s, man)
    rows = [x.split(" |")[0][2:] for x in md.splitlines() if x.startswith("| difficulty=")]
    assert rows == [f"difficulty={v}" for v in order]
    html = render_html(s, man, store.load_records(run), [])
    blob = json.loads(html.split('id="items-data">')[1].split("</script>")[0])
    assert blob["strata_order"] == [f"difficulty={v}" for v in order]


def test_spend_reads_as_one_phrase(run: Path) -> None:
    summary, man = _view(run)
    s = copy.deepcopy(summary)
    s["meta"].update(total_spend_usd=3.87, records_unknown_cost=0)
    f = facts(dict(man, simulated=True, spent_usd=3.43, status="complete"), s)
    assert f["spend_text"] == "$3.87 (simulated; $3.43 paid live, cache hits free)"
    f = facts(dict(man, simulated=True, spent_usd=3.87, status="complete"), s)
    assert f["spend_text"] == "$3.87 (simulated)"
    md = render_markdown(s, dict(man, simulated=True, spent_usd=3.43, status="complete"))
    assert "spend $3.87 (simulated; $3.43 paid live, cache hits free) ·" in md


def test_heatmap_text_stays_readable_with_many_configs() -> None:
    import re

    from tts_bench.report import plots

    names = [f"config-{i}" for i in range(16)]
    strata = [
        {"column": "d", "value": v, "rows": [{"name": n, "acc": 0.5} for n in names]}
        for v in ("easy", "hard")
    ]
    svg = plots.strata_heatmap(strata, names)
    sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 7, sorted(set(sizes))
    width_pt = float(re.search(r'width="([\d.]+)pt"', svg).group(1))
    assert width_pt <= 9 * 72 * 1.25  # shown at most ~900 px wide: barely scaled down


def test_cost_accuracy_labels_do_not_overlap() -> None:
    from tts_bench.report import plots

    plt = plots._plt()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    pts = [(1e-4 * (1 + 0.01 * i), 70 + 0.1 * i, name, "#000") for i, name in enumerate("abcd")]
    ax.scatter([p[0] for p in pts], [p[1] for p in pts])
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    plots._place_labels(fig, ax, [(x, y, f"label-{n}", c) for x, y, n, c in pts])
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in ax.texts]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    plt.close(fig)
    # many configs: a legend, not point labels
    configs = [
        {"name": f"c{i}", "color": "#123456", "cost_mean": 1e-4 * (i + 1), "acc": 0.5}
        for i in range(8)
    ]
    svg = plots.cost_accuracy([{"label": "", "configs": configs, "pareto": []}])
    assert svg.count(">c7<") == 1 and "legend" in svg
